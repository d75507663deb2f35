"""One manifest per assignment (see :mod:`npnet.course.manifest`)."""
