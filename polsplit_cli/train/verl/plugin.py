"""Imported in every Ray process through ``VERL_USE_EXTERNAL_MODULES=polsplit_cli.train.verl.plugin``.

Importing registers the ``policy_split_agent`` agent loop and the ``polsplit`` V1 trainer
with verl's registries; verl looks both up by name from the config.
"""

from polsplit_cli.train.verl import agent_loop, trainer  # noqa: F401  (registration side effects)

