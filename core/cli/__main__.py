import sys

from judgedesk.core.cli import main

sys.exit(main())
