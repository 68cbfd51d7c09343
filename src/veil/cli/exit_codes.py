"""Exit codes of the ``veil`` command, one meaning each."""

SUCCESS = 0
#: The command ran and found a problem (a failed audit, a detected cheater, a refused job).
FINDING = 1
#: The command line itself was wrong (unknown option, missing argument).
USAGE = 2
#: The command could not run (bad input file, unreachable peer, internal error).
ERROR = 3
#: Interrupted by the user.
INTERRUPTED = 130
