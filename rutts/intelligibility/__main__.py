"""python -m rutts.intelligibility --help"""
import sys

from rutts.intelligibility.cli import main

sys.exit(main())
