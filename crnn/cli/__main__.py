import sys

from crnn.cli.app import main

sys.exit(main())
