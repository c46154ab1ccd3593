import sys

from probkit.cli import main

sys.exit(main())
