"""Training: datasets and mixing, the IntagHand-style two-hand network, losses, trainer (DDP), evaluation, demo.

Entry points (what cli.py calls): trainer.train, evaluate.evaluate, demo.demo; config.build_config makes the
configuration from a YAML file and command-line options.
"""
