"""``python -m npnet`` is the ``npnet`` command."""
import sys

from .cli import main

sys.exit(main())
