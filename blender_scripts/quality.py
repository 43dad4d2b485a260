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
- Where a sample's time goes (`render` defaults, forearms on, quiet 2 cores, about 0.9 s CPU at 9 samples):
  each Cycles sample about 0.077 s, the denoiser about 0.1 s, the rest (sync, BVH, passes, metering) about
  0.15 s. Three costs are gone without changing a pixel beyond float rounding: the subdivision modifier's
  evaluation of the four meshes every sample (40-55 ms; blender_scripts/subdivision.py applies the same surface
  as a linear map), the world's rebuild on every sample (its importance map and image, about 5%: the scene turns
  what it draws instead of the world, and the renderer renders the samples of one HDRI one after another), and
  Cycles' light tree (about 5%: the world is the only light).
- 9 samples, with the skin's subsurface weight at 0.5 (materials.py): at weight 1.0 the skin's scattering was the
  noisiest part of the image. Converged (1024 samples) the two weights' images differ by a PSNR of 47-51 dB, yet
  at these sample counts 0.5 is about 1 dB less noisy. Against 512-sample renders of 4 scenes: 9 samples 37.2 dB,
  10 37.6, 11 37.8, 12 38.1 (fast denoiser; 'balanced' gives 9 samples 37.9 dB but costs more than the 2 samples
  it saves); the renderer before the skin model (12 samples on the earlier hand and its plainer skin) measured
  39.0 dB on its own scenes the same way (smooth skin is easier to denoise). Each sample is about 7% of the time;
  at 9, `render` at its defaults (forearms on) costs +6.6% CPU, +0.5% wall per sample over that renderer's
  defaults (bare hands): bench_render.py --against ab61085, quiet machine, 36 scenes, fastest of 3 rounds.
- The forearms cost what the skin they add costs: in the 48 renders of seed 0 they cover 7.9% of the image (the
  hands 28.9%); hidden from the camera they would save 16% of a sample's CPU time; drawn without subsurface
  scattering 2%, without the bump nothing measurable.
- A 256 world map saves a few hundredths of a second but lets small bright lights (the interior and city HDRIs)
  through as fireflies that the denoiser smears into bright blotches on the skin: 512 stays.
"""

from dataclasses import dataclass

DENOISERS = ("off", "fast", "balanced", "high")  # OpenImageDenoise quality, or no denoiser
# Where Cycles renders: the CPU, or every GPU Blender finds of one backend (NVIDIA: cuda or optix; AMD: hip; Intel:
# oneapi; Apple: metal). A GPU's images are valid and compatible, not the CPU's bits.
CYCLES_DEVICES = ("cpu", "cuda", "optix", "hip", "oneapi", "metal")


@dataclass(frozen=True)
class RenderQuality:
    """samples: Cycles samples per pixel; adaptive_threshold: noise level where a pixel stops early (0 = off);
    adaptive_min_samples: samples before a pixel may stop (0 = Cycles' automatic); denoiser: one of DENOISERS;
    denoise_prefilter: 'NONE' | 'FAST' | 'ACCURATE' (how OIDN cleans its albedo/normal guides); denoise_guides:
    'RGB' | 'RGB_ALBEDO' | 'RGB_ALBEDO_NORMAL'; world_map: side of the world's importance map in pixels (0 =
    Cycles' automatic, slow to rebuild); bounces: (total, diffuse, glossy) light-path limits."""

    samples: int = 9
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
    # The world is the only light (nothing in the scene emits): the light tree, which picks among many lights,
    # has nothing to choose and costs about 5% of a sample's time.
    c.use_light_tree = False
    if scene.world is not None:
        w = scene.world.cycles
        w.sampling_method = "MANUAL" if q.world_map > 0 else "AUTOMATIC"
        if q.world_map > 0:
            w.sample_map_resolution = q.world_map
