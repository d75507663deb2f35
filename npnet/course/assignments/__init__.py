"""One manifest per assignment (see :mod:`npnet.course.manifest`)."""

# The course, in the order its assignments are handed out. A release of one assignment ships the
# solutions of the assignments it requires (Assignment.requires) and stubs every other one's.
COURSE = ("layers", "conv_as_matrix", "network_visualization", "style_transfer", "rnn_captioning", "gans")
