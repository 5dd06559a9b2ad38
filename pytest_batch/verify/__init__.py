"""``pytest-batch verify``: how far the emulator is from the live APIs, measured.

``shapes`` says what is compared, ``replay`` drives recorded exchanges through a fresh emulator,
``live`` runs a tiny probe batch against a live target, ``report`` prints the drift.
"""
