import sys

from cnclip_eval.cli import main

sys.exit(main())
