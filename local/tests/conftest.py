import sys
from pathlib import Path

# The tests import each other's fixtures by module name.
sys.path.insert(0, str(Path(__file__).parent))
