import sys

from chat_rec.cli.main import main

sys.exit(main())
