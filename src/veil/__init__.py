"""veil: compute on private data.

Several organizations jointly compute a function of their combined data and learn only the result:
secure multiparty computation protects the inputs, differential privacy protects the output.
See ``docs/`` for each capability and ``../shared/DESIGN.md`` for the architecture.
"""

__version__ = "0.1.0"
