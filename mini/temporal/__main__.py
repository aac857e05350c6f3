import sys

from mini.temporal.cli import main

sys.exit(main())
