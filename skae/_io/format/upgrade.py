"""Reading files written in an older skae file format.

Each older format version has a function that rewrites a header into the
current format, before :func:`skae.load` validates anything: the checks
then see a current header, and an edited old file is refused as a current
one would be.
"""


def upgrade_header(header, version):
    """Bring ``header``, written in format ``version``, to the current format.

    Only well-formed entries are rewritten; anything else is left for the
    checks that follow to refuse, with their usual messages.
    """
    if version == 1:
        _from_version_1(header)
    if version in (1, 2):
        _from_version_2(header)
    if version in (1, 2, 3):
        _from_version_3(header)
    return header


# Format 1 had no latent density: only VariationalAutoEncoder could sample,
# from its prior; the other estimators could not sample at all.
_V1_LATENT_DENSITY = {
    "AutoEncoder": None,
    "DenoisingAutoEncoder": None,
    "SparseAutoEncoder": None,
    "ConvAutoEncoder": None,
    "VariationalAutoEncoder": "prior",
}


def _sampling_before_format_2(name):
    """The sampling parameters and fitted density of an estimator from before
    ``latent_density`` existed, or None for a class that did not sample."""
    if name not in _V1_LATENT_DENSITY:
        return None
    kind = _V1_LATENT_DENSITY[name]
    # Format 1's VAE samples were not calibrated.
    params = {"latent_density": kind, "calibrate_samples": kind is None}
    if kind != "prior":
        return params, None
    keys = ("quantiles", "component_quantiles", *_PACKED_MAPS)
    return params, {"kind": "prior", **dict.fromkeys(keys)}


#: Entries format 4 added to the density: maps packed as 16-bit fractions of
#: ``quantile_range``, shared by the groups of components in
#: ``component_maps``. None in older files: a float map per component.
_PACKED_MAPS = ("quantile_range", "component_maps")


def _from_version_3(header):
    # Format 3 kept one float map per mixture component, arrays in the header.
    attributes = _tagged_dict(header.get("attributes"))
    density = _tagged_dict((attributes or {}).get("_latent_density"))
    if density is not None:
        for key in _PACKED_MAPS:
            density.setdefault(key, None)


def _from_version_2(header):
    # Format 2's densities calibrated every sample with the map of all rows.
    attributes = _tagged_dict(header.get("attributes"))
    density = _tagged_dict((attributes or {}).get("_latent_density"))
    if density is not None:
        density.setdefault("component_quantiles", None)


def _from_version_1(header):
    sampling = _sampling_before_format_2(header.get("class"))
    if sampling is None:
        return
    defaults, density = sampling
    params = _tagged_dict(header.get("params"))
    if params is not None:
        for key, value in defaults.items():
            params.setdefault(key, value)
    attributes = _tagged_dict(header.get("attributes"))
    if attributes is not None and header.get("fitted") is True:
        if density is not None:
            density = {"__dict__": density}
        attributes.setdefault("_latent_density", density)


def _tagged_dict(value):
    """The entries of an encoded dict (``{"__dict__": {...}}``), or None."""
    if isinstance(value, dict) and isinstance(value.get("__dict__"), dict):
        return value["__dict__"]
    return None


def upgrade_pickled_state(name, state, fitted):
    """An estimator's pickled ``__dict__`` from an older skae, brought up to date.

    Pickles written before ``latent_density`` existed lack the parameter,
    and ``get_params`` (so ``clone``, ``repr``, a search) would fail on them:
    they get what format 1 files get. Densities pickled before
    per-component calibration maps keep the map of all rows, as format 2
    files do.
    """
    density = state.get("_latent_density")
    if isinstance(density, dict) and "component_quantiles" not in density:
        # Pickled before per-component calibration maps: the map of all rows.
        density = {**density, "component_quantiles": None}
    if isinstance(density, dict) and not density.keys() >= set(_PACKED_MAPS):
        # Pickled with a float map per component.
        density = {**dict.fromkeys(_PACKED_MAPS), **density}
    if density is not state.get("_latent_density"):
        state = {**state, "_latent_density": density}
    sampling = _sampling_before_format_2(name)
    if sampling is None or "latent_density" in state:
        return state
    defaults, density = sampling
    state = {**defaults, **state}
    if fitted:
        state.setdefault("_latent_density", density)
    return state
