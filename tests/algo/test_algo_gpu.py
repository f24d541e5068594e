"""CUDA checks: the algo functions give the CPU results on a GPU, and chunked stats stay within the chunk."""

import pytest
import torch

from polsplit_cli.algo import chunked_token_stats, clip_cov_mask, policy_split_advantages, token_entropy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_policy_split_on_gpu_matches_cpu():
    gen = torch.Generator().manual_seed(0)
    rewards = torch.randint(0, 2, (8, 8), generator=gen).float()
    logp_n, logp_he = -torch.rand(2, 8, 8, 64, generator=gen) * 5
    mask = torch.rand(8, 8, 64, generator=gen) < 0.8
    cpu = policy_split_advantages(rewards, logp_n, logp_he, mask, eta=0.5)
    gpu = policy_split_advantages(rewards.cuda(), logp_n.cuda(), logp_he.cuda(), mask.cuda(), eta=0.5)
    for a, b in zip(cpu, gpu, strict=True):
        torch.testing.assert_close(b.cpu(), a, atol=1e-6, rtol=1e-6)


def test_clip_cov_with_a_cuda_generator_is_deterministic():
    adv = torch.randn(4, 256, device="cuda") * 3
    logp = -torch.rand(4, 256, device="cuda") * 4
    mask = torch.ones(4, 256, device="cuda")

    def run():
        return clip_cov_mask(
            adv,
            logp,
            logp,
            mask,
            ratio=0.01,
            lb=0.1,
            ub=50.0,
            generator=torch.Generator(device="cuda").manual_seed(5),
        )

    first = run()
    assert int((first == 0).sum()) == 10 and torch.equal(first, run())


def test_chunked_stats_memory_is_bounded_by_the_chunk():
    n, d, v, chunk = 16384, 256, 32768, 256
    hidden = torch.randn(n, d, device="cuda", dtype=torch.bfloat16)
    weight = torch.randn(v, d, device="cuda", dtype=torch.bfloat16) * 0.05
    targets = torch.randint(0, v, (n,), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.no_grad():
        stats = chunked_token_stats(hidden, weight, targets, chunk_size=chunk, temperature=0.6)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    full_fp32_logits = n * v * 4  # 2 GiB: what an unchunked pass would hold at least once
    assert extra < 8 * chunk * v * 4 < full_fp32_logits / 4
    with torch.no_grad():
        expected = token_entropy(hidden[:512] @ weight.T)
    torch.testing.assert_close(stats.entropy[:512], expected, atol=1e-4, rtol=1e-4)
