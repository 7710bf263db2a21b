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
    if version in (1, 2, 3, 4):
        _from_version_4(header)
    return add_later_params(header)


#: Parameters a class gained after files of its kind were written: the
#: settings of a file without them, and the values that describe it (the
#: parameters had no effect there). A file of other settings that lacks
#: them is refused as edited.
_LATER_PARAMS = {
    "SparseAutoEncoder": (
        (
            ("sparsity", {"topk", "l1"}),
            {
                "n_aux": "auto",
                "alpha_aux": 1 / 32,
                "dead_after": 10_000,
                "refine_sweeps": 3,
                "learning_rate": "constant",
            },
        ),
        # The SAE settings' codes were the encoder's own before the
        # refinement existed: a file of them keeps encoding that way.
        (
            ("sparsity", {"sae_topk", "sae_batchtopk"}),
            {"refine_sweeps": 0, "learning_rate": "constant"},
        ),
    ),
}


def _later_params(name, params):
    """The parameters ``name`` gained since ``params`` were written, or {}."""
    # An edited header may hold anything as its class: the checks after
    # the upgrade refuse it.
    if not isinstance(name, str) or name not in _LATER_PARAMS:
        return {}
    if not isinstance(params, dict):
        return {}
    for (key, values), added in _LATER_PARAMS[name]:
        value = params.get(key)
        if isinstance(value, str) and value in values:
            return {k: v for k, v in added.items() if k not in params}
    return {}


def add_later_params(header):
    """Fill in, in a header of any format version, the parameters its class
    gained since it was written, where they change nothing."""
    name = header.get("class")
    params = _tagged_dict(header.get("params"))
    if params is not None:
        params.update(_later_params(name, params))
    # The fitted network was built with them too.
    built = _tagged_dict(
        (_tagged_dict(header.get("attributes")) or {}).get("_built_with")
    )
    if built is not None:
        built.update(_later_params(name, built))
    return header


#: Format 3 had no label head: of these, only UMAPAutoEncoder took
#: ``target_weight`` (for its graph, and a warm start could change it). The
#: others ignored ``y``, which ``target_weight=None`` still does.
_TARGET_WEIGHT_SINCE_FORMAT_4 = frozenset(
    {"AutoEncoder", "DenoisingAutoEncoder", "ConvAutoEncoder"}
)


def _target_weight_before_format_4(header):
    name = header.get("class")
    if not isinstance(name, str):
        return
    if name not in {*_TARGET_WEIGHT_SINCE_FORMAT_4, "UMAPAutoEncoder"}:
        return
    params = _tagged_dict(header.get("params"))
    if params is None:
        return
    params.setdefault("target_weight", None)
    # target_weight now describes the network (its head): the networks in
    # these files were built without one, whatever the parameter says.
    attributes = _tagged_dict(header.get("attributes"))
    built = _tagged_dict((attributes or {}).get("_built_with"))
    if built is not None:
        built.setdefault("target_weight", params["target_weight"])


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


def _from_version_4(header):
    # Format 4 stored every full covariance as such.
    attributes = _tagged_dict(header.get("attributes"))
    density = _tagged_dict((attributes or {}).get("_latent_density"))
    if density is not None and density.get("kind") == "gmm":
        density.setdefault("covariance_factors", None)


def _from_version_3(header):
    _target_weight_before_format_4(header)
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
    they get what format 1 files get; those from before the label head get
    ``target_weight=None``, as files before format 4 do. Densities pickled before
    per-component calibration maps keep the map of all rows, as format 2
    files do.
    """
    if name in _TARGET_WEIGHT_SINCE_FORMAT_4 and "target_weight" not in state:
        # Pickled before the label head: y was ignored, as None does.
        state = {"target_weight": None, **state}
    built = state.get("_built_with")
    if (
        name in {*_TARGET_WEIGHT_SINCE_FORMAT_4, "UMAPAutoEncoder"}
        and isinstance(built, dict)
        and "target_weight" not in built
    ):
        state = {
            **state,
            "_built_with": {**built, "target_weight": state.get("target_weight")},
        }
    density = state.get("_latent_density")
    if isinstance(density, dict) and "component_quantiles" not in density:
        # Pickled before per-component calibration maps: the map of all rows.
        density = {**density, "component_quantiles": None}
    if isinstance(density, dict) and not density.keys() >= set(_PACKED_MAPS):
        # Pickled with a float map per component.
        density = {**dict.fromkeys(_PACKED_MAPS), **density}
    if (
        isinstance(density, dict)
        and density.get("kind") == "gmm"
        and "covariance_factors" not in density
    ):
        # Pickled with every full covariance as such.
        density = {**density, "covariance_factors": None}
    if density is not state.get("_latent_density"):
        state = {**state, "_latent_density": density}
    state = {**_later_params(name, state), **state}
    if isinstance(state.get("_built_with"), dict):
        built = state["_built_with"]
        state["_built_with"] = {**_later_params(name, built), **built}
    sampling = _sampling_before_format_2(name)
    if sampling is None or "latent_density" in state:
        return state
    defaults, density = sampling
    state = {**defaults, **state}
    if fitted:
        state.setdefault("_latent_density", density)
    return state
