"""A physical model of skin colour: the diffuse reflectance of a two-layer skin (a melanin-bearing epidermis over a
blood-bearing dermis), integrated over the visible spectrum into linear Rec.709 RGB. Numpy only.

Per wavelength (nm):
- epidermis absorption (1/cm): melanin volume fraction `melanin` x 6.6e11 lambda^-3.33, carotene (a band near
  480 nm) and the bloodless tissue baseline 0.244 + 85.3 exp(-(lambda - 154) / 66.2);
- dermis absorption: blood volume fraction `blood` x whole blood (150 g/L haemoglobin, oxygen saturation
  `oxygenation`, molar extinction of oxy- and deoxy-haemoglobin tabulated every 20 nm) plus the baseline;
  reduced scattering 46 (lambda / 500 nm)^-1.42 1/cm;
- the dermis' total diffuse reflectance from the diffusion dipole (relative index 1.4), seen through the epidermis
  twice, under the near-flat back-scatter r0 of the stratum corneum: R = r0 + (1 - r0) exp(-2 mu_epi d_epi) Rd.
The spectrum is weighted by a 6504 K illuminant and the CIE 1931 observer (the analytic multi-lobe fit) and
white-balanced, so a perfect white reflector gives (1, 1, 1).

Fitzpatrick types I-VI are ranges of epidermal melanin fraction (`FITZPATRICK`); blood and oxygenation vary over
the hand (redder knuckles, fingertips and palms; bluish veins).
"""

import numpy as np

WAVELENGTHS = np.arange(400.0, 701.0, 10.0)
# Molar extinction (1/(cm M)) of oxy- and deoxy-haemoglobin, 400-700 nm every 20 nm (after Prahl's compilation).
_HB_NM = np.arange(400.0, 701.0, 20.0)
_HBO2 = np.array([266232, 480360, 103292, 44480, 26629, 20932, 24202, 53236, 32613, 50104, 3200, 942, 442, 320, 272,
                  290], dtype=np.float64)  # fmt: skip
_HB = np.array([223296, 407560, 413280, 31589, 14550, 20862, 31590, 46592, 53788, 37020, 14677, 6509, 4131, 3226, 2052,
                1794], dtype=np.float64)  # fmt: skip
BLOOD_HB_G_PER_L = 150.0
HB_G_PER_MOL = 64500.0
EPIDERMIS_CM = 0.008
CAROTENE_PER_CM = 12.0  # peak epidermal absorption of carotene near 480 nm
RELATIVE_INDEX = 1.4
# Light scattered back by the stratum corneum, above the basal layer's melanin (a near-flat few per cent).
STRATUM_CORNEUM_REFLECTANCE = 0.04
# Epidermal melanin volume fraction per Fitzpatrick type.
FITZPATRICK = {
    "I": (0.004, 0.014),
    "II": (0.014, 0.035),
    "III": (0.035, 0.07),
    "IV": (0.07, 0.13),
    "V": (0.13, 0.24),
    "VI": (0.24, 0.45),
}
_XYZ_TO_RGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def _lobe(lam, mu, s1, s2):
    s = np.where(lam < mu, s1, s2)
    return np.exp(-0.5 * ((lam - mu) / s) ** 2)


def cie_observer(lam: np.ndarray) -> np.ndarray:
    """CIE 1931 2-degree colour matching functions (len(lam), 3): the analytic multi-lobe Gaussian fit."""
    x = (
        1.056 * _lobe(lam, 599.8, 37.9, 31.0)
        + 0.362 * _lobe(lam, 442.0, 16.0, 26.7)
        - 0.065 * _lobe(lam, 501.1, 20.4, 26.2)
    )
    y = 0.821 * _lobe(lam, 568.8, 46.9, 40.5) + 0.286 * _lobe(lam, 530.9, 16.3, 31.1)
    z = 1.217 * _lobe(lam, 437.0, 11.8, 36.0) + 0.681 * _lobe(lam, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], axis=1)


def _planck(lam_nm: np.ndarray, kelvin: float) -> np.ndarray:
    lam = lam_nm * 1e-9
    return 1.0 / (lam**5 * (np.exp(1.4388e-2 / (lam * kelvin)) - 1.0))


def _spectrum_to_rgb_matrix() -> np.ndarray:
    """(len(WAVELENGTHS), 3): reflectance spectrum -> white-balanced linear Rec.709 RGB."""
    m = cie_observer(WAVELENGTHS) * _planck(WAVELENGTHS, 6504.0)[:, None]
    m = m @ _XYZ_TO_RGB.T
    return m / m.sum(0, keepdims=True)  # a flat reflectance of 1 gives (1, 1, 1)


_TO_RGB = _spectrum_to_rgb_matrix()


def baseline_absorption(lam: np.ndarray) -> np.ndarray:
    """Bloodless, melanin-free tissue (1/cm)."""
    return 0.244 + 85.3 * np.exp(-(lam - 154.0) / 66.2)


def melanin_absorption(lam: np.ndarray) -> np.ndarray:
    """Melanosome interior (1/cm)."""
    return 6.6e11 * lam**-3.33


def blood_absorption(lam: np.ndarray, oxygenation) -> np.ndarray:
    """Whole blood (..., len(lam)) 1/cm at oxygen saturation `oxygenation` (...)."""
    s = np.asarray(oxygenation, dtype=np.float64)[..., None]
    eps = s * np.interp(lam, _HB_NM, _HBO2) + (1 - s) * np.interp(lam, _HB_NM, _HB)
    return np.log(10.0) * eps * BLOOD_HB_G_PER_L / HB_G_PER_MOL


def dermis_scattering(lam: np.ndarray) -> np.ndarray:
    """Reduced scattering coefficient of the dermis (1/cm)."""
    return 46.0 * (lam / 500.0) ** -1.42


def _dipole_reflectance(mua: np.ndarray, musp: np.ndarray) -> np.ndarray:
    """Total diffuse reflectance of a semi-infinite scattering medium (the diffusion dipole)."""
    eta = RELATIVE_INDEX
    fdr = -1.440 / eta**2 + 0.710 / eta + 0.668 + 0.0636 * eta
    a = (1 + fdr) / (1 - fdr)
    alb = musp / (musp + mua)
    root = np.sqrt(3 * (1 - alb))
    return alb / 2 * (1 + np.exp(-4 / 3 * a * root)) * np.exp(-root)


def skin_reflectance(melanin, blood, oxygenation=0.75, carotene=1.0) -> np.ndarray:
    """Diffuse reflectance spectra (..., len(WAVELENGTHS)) of skin with epidermal melanin fraction `melanin`, dermal
    blood fraction `blood`, oxygen saturation `oxygenation` and carotene (x the typical amount); arrays broadcast."""
    m, b, s, c = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (melanin, blood, oxygenation, carotene))
    )
    lam = WAVELENGTHS
    base = baseline_absorption(lam)
    car = CAROTENE_PER_CM * np.exp(-(((lam - 480.0) / 40.0) ** 2))
    epi = m[..., None] * melanin_absorption(lam) + (1 - m[..., None]) * base + c[..., None] * car
    derm = b[..., None] * blood_absorption(lam, s) + (1 - b[..., None]) * base
    r0 = STRATUM_CORNEUM_REFLECTANCE
    return r0 + (1 - r0) * np.exp(-2 * epi * EPIDERMIS_CM) * _dipole_reflectance(derm, dermis_scattering(lam))


def spectrum_to_rgb(spectra: np.ndarray) -> np.ndarray:
    """Reflectance spectra (..., len(WAVELENGTHS)) -> linear Rec.709 albedo (..., 3) under a D65-like white."""
    return np.asarray(spectra) @ _TO_RGB


def skin_albedo(melanin, blood, oxygenation=0.75, carotene=1.0) -> np.ndarray:
    """Linear Rec.709 diffuse albedo (..., 3) of the skin layers; see `skin_reflectance`."""
    return spectrum_to_rgb(skin_reflectance(melanin, blood, oxygenation, carotene))


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def ita_degrees(srgb: np.ndarray) -> np.ndarray:
    """Individual typology angle (degrees) of sRGB colours (..., 3) in [0, 1]: atan((L* - 50) / b*) under D65.
    Dermatology's skin-colour scale: > 55 very light, 41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown,
    < -30 dark."""
    lin = srgb_to_linear(srgb)
    m = np.linalg.inv(_XYZ_TO_RGB)
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lstar = 116 * f[..., 1] - 16
    bstar = 200 * (f[..., 1] - f[..., 2])
    return np.degrees(np.arctan2(lstar - 50, bstar))


ITA_CLASSES = (("very light", 55.0), ("light", 41.0), ("intermediate", 28.0), ("tan", 10.0), ("brown", -30.0),
               ("dark", -90.0))  # fmt: skip


def ita_class(ita: float) -> str:
    """The ITA skin-colour category of one angle (see `ita_degrees`)."""
    for name, lower in ITA_CLASSES:
        if ita > lower:
            return name
    return ITA_CLASSES[-1][0]
