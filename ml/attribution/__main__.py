import sys

from ml.attribution.cli import main

sys.exit(main())
