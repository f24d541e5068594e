"""The dual-mode agent loop: half the sessions of a question generate in normal mode, half in HE mode.

Each session returns the SAME response twice, indexed by prompt mode: output 0 under the normal
prompt, output 1 under the HE prompt, whichever generated it. verl's TransferQueue
post-processing stores them as ``{uid}_{session}_0`` / ``_1``, builds ids, masks and positions
for both, and computes the reward once, on the last output, for both copies. The HE copy must
be the last one: verl 0.9.1's reward manager right-pads the outputs of a session together and
then reads the last row's response from the end of its attention mask, which finds padding
instead of the response when the last row has the shorter prompt (every reward would be 0).
The HE prompt is the normal one plus a system turn, so it is always the longer. Both prompts
are rendered from chat messages by the loop's own chat-template helper
(``ct_build_initial_tokens``); nothing is decoded and re-encoded.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from polsplit_cli.modes import get_mode

AGENT_NAME = "policy_split_agent"


def he_messages(normal_messages: list[dict], system_text: str) -> list[dict]:
    """The HE-mode chat: the normal-mode messages with the HE text as a leading system turn."""
    if any(message["role"] == "system" for message in normal_messages):
        raise ValueError("normal-mode prompts must not contain a system turn (the HE mode adds one)")
    return [{"role": "system", "content": system_text}, *normal_messages]


@register(AGENT_NAME)
class PolicySplitAgentLoop(SingleTurnAgentLoop):
    """Generate with the session's mode, return the response under both prompts (normal, then HE)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        section = self.config.get("policy_split") or {}
        self.he_system = get_mode(section.get("he_mode", "high-entropy")).system
        self.group_size = self.rollout_config.n

    def generates_in_he_mode(self, session_id: int) -> bool:
        """Sessions 0..G/2-1 are normal mode, G/2..G-1 HE mode (validation with n <= G/2 is all normal)."""
        return session_id >= self.group_size // 2

    async def run(self, sampling_params: dict[str, Any], **kwargs) -> list[AgentLoopOutput]:
        normal = list(kwargs["raw_prompt"])
        he = he_messages(normal, self.he_system)
        in_he_mode = self.generates_in_he_mode(int(kwargs["session_id"]))
        generating, other = (he, normal) if in_he_mode else (normal, he)

        on_policy: AgentLoopOutput = await super().run(sampling_params, **{**kwargs, "raw_prompt": generating})
        other_prompt_ids = await self.ct_build_initial_tokens(other)
        off_policy = on_policy.model_copy(update={"prompt_ids": other_prompt_ids}, deep=True)
        longest = max(len(other_prompt_ids), len(on_policy.prompt_ids))
        if longest >= self.rollout_config.prompt_length:  # verl left-truncates silently at this length
            raise ValueError(
                f"a {longest}-token prompt reaches rollout.prompt_length={self.rollout_config.prompt_length}: "
                "raise data.max_prompt_length to leave room for the HE system turn"
            )
        return [off_policy, on_policy] if in_he_mode else [on_policy, off_policy]  # [normal prompt, HE prompt]
