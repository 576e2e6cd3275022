"""Benchmarks: ``python -m benchmarks NAME [--quick] [--json]``.

Each benchmark is a module ``benchmarks/<name>.py`` with
``run(quick: bool) -> dict`` returning named figures (numbers or short
strings). ``--json`` prints exactly one JSON object; ``--quick`` must finish
within 60 s on a 2-core machine. Results worth keeping go to
``benchmarks/results/<name>.md`` with the command and the machine.
"""
