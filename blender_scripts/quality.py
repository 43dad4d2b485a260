"""Render quality recipes: the Cycles settings that trade time for noise, kept in one frozen value so the renderer,
the CLI and the benchmark name the same thing.

Measured at 256x256 on 2 shared CPU cores (benchmarks/bench_render.py, PSNR against 1024 samples):
- The largest cost was fixed, not sampling: with Cycles' automatic world importance map every HDRI change or
  rotation (every sample) rebuilt a large map, about 1.2 s. A manual 512 map costs a few hundredths of a second; the
  map only steers sampling, so the converged image is the same (1024 is slightly less noisy and slower).
- OpenImageDenoise with albedo and normal guides, fast prefilter and fast quality adds about 0.1 s and about 6-7 dB:
  12 samples denoised landed about 1 dB above RenderIH's 256 undenoised samples; 'high' quality with the accurate
  prefilter buys under 1 dB more for twice the denoising time.
- Adaptive sampling, fewer bounces and the tile size (a 256 image is one tile) change little at these sample counts.
  Adaptive sampling in fact changes no pixel: at threshold 0.02 Cycles' automatic minimum is 52 samples.
- Where a sample's time goes (forearms on, 2 shared cores, about 1.2 s): path tracing about 80%, denoising about
  9%, re-syncing the four subdivided meshes 5-10% (blender_scripts/scene.py evaluates the subdivision at the
  lowest quality that gives the same surface: 150 instead of 200 ms of sync), the world's importance map 30-50 ms,
  loading the changed HDRI, texture and detail map 20-40 ms; numpy (skinning, forearms, metering) under 20 ms. The
  skin's bump (three lookups of the detail map per shading point) costs 7-10% of the time.
- 11 samples, with the skin's subsurface weight at 0.5 (materials.py): at weight 1.0 the skin's scattering was the
  noisiest part of the image. Converged (1024 samples) the two weights' images differ by a PSNR of 47-51 dB, yet
  at these sample counts 0.5 is about 1 dB less noisy, which pays for the 12th sample: 11 samples at 0.5 land
  0.6 dB closer to the 1024-sample render of the weight-1.0 skin (37.9 vs 37.3 dB over 3 scenes) than 12 samples
  at 1.0, and 5-9% faster per sample.
- The forearms cost what the skin they add costs: in the 48 renders of seed 0 they cover 7.9% of the image (the
  hands 28.9%), and bench_render --arms measures 0.616 s wall, 1.156 s CPU per sample with them against 0.501 s,
  0.949 s bare and 0.484 s, 0.905 s for the earlier stand-in (quiet machine, fastest of 3 rounds). Drawing them
  without subsurface scattering and bump would save about 7%.
- A 256 world map saves a few hundredths of a second but lets small bright lights (the interior and city HDRIs)
  through as fireflies that the denoiser smears into bright blotches on the skin: 512 stays.
"""

from dataclasses import dataclass

DENOISERS = ("off", "fast", "balanced", "high")  # OpenImageDenoise quality, or no denoiser


@dataclass(frozen=True)
class RenderQuality:
    """samples: Cycles samples per pixel; adaptive_threshold: noise level where a pixel stops early (0 = off);
    adaptive_min_samples: samples before a pixel may stop (0 = Cycles' automatic); denoiser: one of DENOISERS;
    denoise_prefilter: 'NONE' | 'FAST' | 'ACCURATE' (how OIDN cleans its albedo/normal guides); denoise_guides:
    'RGB' | 'RGB_ALBEDO' | 'RGB_ALBEDO_NORMAL'; world_map: side of the world's importance map in pixels (0 =
    Cycles' automatic, slow to rebuild); bounces: (total, diffuse, glossy) light-path limits."""

    samples: int = 11
    adaptive_threshold: float = 0.02
    adaptive_min_samples: int = 0
    denoiser: str = "fast"
    denoise_prefilter: str = "FAST"
    denoise_guides: str = "RGB_ALBEDO_NORMAL"
    world_map: int = 512
    bounces: tuple[int, int, int] = (3, 2, 2)

    def __post_init__(self):
        if self.samples < 1:
            raise ValueError(f"samples {self.samples}: need at least 1")
        if self.denoiser not in DENOISERS:
            raise ValueError(f"denoiser {self.denoiser!r}: expected one of {', '.join(DENOISERS)}")


DEFAULT_QUALITY = RenderQuality()
# The renderer's recipe before the denoiser and the fixed world map (kept so the benchmark shows the gain).
NOISY_QUALITY = RenderQuality(samples=16, denoiser="off", world_map=0)
# RenderIH's recipe: 256 samples everywhere, no denoiser, Cycles' automatic world map.
RENDERIH_QUALITY = RenderQuality(samples=256, adaptive_threshold=0.0, denoiser="off", world_map=0)
# Ground truth for the benchmark's PSNR.
REFERENCE_QUALITY = RenderQuality(samples=1024, adaptive_threshold=0.0, denoiser="off", world_map=1024)


def apply_quality(scene, q: RenderQuality, denoise: bool = True) -> None:
    """Set a bpy Scene's Cycles settings (and its world's importance map) to `q`; denoise=False leaves the
    denoiser off whatever `q` says (label-only renders)."""
    c = scene.cycles
    c.samples = q.samples
    c.use_adaptive_sampling = q.adaptive_threshold > 0
    c.adaptive_threshold = max(q.adaptive_threshold, 1e-4)
    c.adaptive_min_samples = q.adaptive_min_samples
    on = denoise and q.denoiser != "off"
    if c.use_denoising != on:  # toggling changes the render passes: only touch it when it changes
        c.use_denoising = on
    if on:
        c.denoiser = "OPENIMAGEDENOISE"
        c.denoising_use_gpu = False
        c.denoising_quality = q.denoiser.upper()
        c.denoising_prefilter = q.denoise_prefilter
        c.denoising_input_passes = q.denoise_guides
    c.max_bounces, c.diffuse_bounces, c.glossy_bounces = q.bounces
    c.transparent_max_bounces = 0
    c.caustics_reflective = c.caustics_refractive = False
    if scene.world is not None:
        w = scene.world.cycles
        w.sampling_method = "MANUAL" if q.world_map > 0 else "AUTOMATIC"
        if q.world_map > 0:
            w.sample_map_resolution = q.world_map
