import sys

from git_exp.cli import main

sys.exit(main())
