import sys

from egoimu.cli import main

sys.exit(main())
