"""One manifest per assignment (see :mod:`npnet.course.manifest`)."""

# The course, in the order its assignments are handed out. A release of one assignment ships the
# solutions of the assignments it requires (Assignment.requires) and stubs every other one's.
COURSE = ("layers", "classifiers", "conv_as_matrix", "problem_set", "network_visualization", "understanding",
          "style_transfer", "rnn_captioning", "transformer_captioning", "gans", "self_supervised")
