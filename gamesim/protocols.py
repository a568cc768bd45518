"""The plugin protocols: what each kind of plugin must define, and what it may define.

One class per kind (:data:`PROTOCOLS`). Each declares its members: the required ones, and
the optional capabilities with the value gamesim assumes for a plugin that lacks one
(``None`` for a method: the engine does without it; ``False`` for a flag). docs/plugins.md,
"Protocols", is the reference for authors; docs/design.md, "Protocols", says where each member
is called in an iteration.

gamesim duck-types plugins: any class with the required members is a plugin of the kind, and
none needs to inherit these classes. A class that does inherit one documents its contract and
changes nothing else: a member it leaves out still reads as absent (``hasattr`` is False), as
for a class that never heard of the protocol. Read an optional member of any plugin with
:func:`capability` (its value, or the protocol's default) or :func:`has` (whether it is
there); never with ``getattr``/``hasattr`` and a default of one's own.

A capability added later is declared here as an optional member, so that plugins written
before it keep working through the fallback its default selects: ``out_methods``, the methods
that fill a buffer the engine passes as ``out=`` (:func:`fills`), is one.

Conventions of every kind (docs/design.md, "Numerics"): arrays are contiguous float64; a
vector on the grid has shape (N,), a parameter vector is flat, shape (P,); masses are
non-negative and sum to 1; ``p_d`` (or ``p``) is the data, ``p_g`` (or ``q``) the generated
distribution; a method never modifies the arrays it is given (optimizers may step theta in
place; a method in ``out_methods`` fills its ``out``) and returns arrays the caller may keep.
"""

import inspect


class Member:
    """One member of a protocol: a method (declared by a function whose signature and
    docstring are its contract) or an attribute, required or optional with a default.

    On a protocol class (and a subclass) it reads as itself, for introspection; on an instance
    whose class does not define it, reading it raises AttributeError, as for a plugin that does
    not inherit the protocol at all.
    """

    def __init__(self, function=None, required=False, default=None, doc=""):
        self.function, self.required, self.default = function, required, default
        self.name = getattr(function, "__name__", "")
        self.__doc__ = inspect.getdoc(function) if function is not None else doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner):
        if instance is None:
            return self
        raise AttributeError(f"{type(instance).__name__!r} object has no attribute "
                             f"{self.name!r} (an optional member it does not define)")

    @property
    def signature(self):
        """``name(arguments)`` for a method (without self), the bare name for an attribute."""
        if self.function is None:
            return self.name
        arguments = list(inspect.signature(self.function).parameters)[1:]
        return f"{self.name}({', '.join(arguments)})"


def required(function):
    """Declare a required method."""
    return Member(function, required=True)


def optional(function):
    """Declare an optional method; a plugin without it is treated as ``None`` (absent)."""
    return Member(function)


def attribute(default=None, doc="", required=False):
    """Declare an attribute, optional with ``default`` unless ``required``."""
    return Member(None, required, default, doc)


class Plugin:
    """What every kind shares. Besides these members a plugin has a class attribute ``name``
    (a non-empty string: what scenarios write), its declared parameters
    (:func:`gamesim.param`), and, once built, ``config``: its resolved table."""

    kind = ""
    waived_by = None  # a flag that, when true, waives the required members (the oracle)
    one_of = ()  # members of which at least one is required (a regularizer's)

    out_methods = attribute(None, "The names of the plugin's methods that take a keyword "
                                  "`out=`: a float64 array of the result's shape (for a "
                                  "result holding several arrays, a tuple of them in order; "
                                  "its numbers are returned as before), filled with the "
                                  "numbers the method gives without it and returned in "
                                  "place of a new array. The engine passes such methods "
                                  "buffers it reuses across iterations. None: every method "
                                  "allocates its results.")

    @optional
    def validate(self):
        """Check the parameters together, after gamesim set them; raise
        ``gamesim.ParameterError(key, message)``. Also the place for work that depends on the
        parameters only (reading a data file). Returns nothing."""


class OnGrid(Plugin):
    """The members of the kinds that see the grid (every kind but optimizers)."""

    @optional
    def setup(self, grid):
        """Called once, after ``validate()``, with the scenario's :class:`gamesim.Grid`: the
        place for work that needs N, h or the cell centres. Returns nothing."""


class Target(OnGrid):
    """The data distribution p_d."""

    kind = "target"

    @required
    def masses(self, grid):
        """``(p, mass_outside)``: p the cell masses on ``grid``, shape (N,), >= 0, summing to 1
        (renormalized on the grid); ``mass_outside`` the share of the distribution beyond
        [lower, upper], a number in [0, 1]."""

    @optional
    def draw(self, rng, n):
        """``n`` data points (a float64 vector, positions in x) for sampled training, drawn
        with the numpy Generator ``rng``. Default: cell centres drawn with probability p_d
        (jittered within their cells if ``[game] jitter``)."""


class Generator(OnGrid):
    """The generator G_theta, seen through its cell masses p_g(theta)."""

    kind = "generator"

    @required
    def init_params(self, rng):
        """The initial parameters theta, a flat float64 vector; ``rng`` is a seeded numpy
        Generator (the generator's own stream)."""

    @required
    def forward(self, theta):
        """``(p_g, mass_outside)``: masses of shape (N,) summing to 1, and the generated
        mass that fell beyond the grid (put in the edge cells), in [0, 1]."""

    @required
    def vjp(self, theta, g_p):
        """sum_i g_p[i] dp_g[i]/dtheta, the shape of theta. ``g_p`` = dL/dp_g may hold +-inf
        where p_g = 0; a zero mass times an infinite gradient counts as 0."""

    logit_params = attribute(False, "True: theta are mass logits, p_g = softmax(theta) (the "
                                    "`density` generator). Allows the `mirror` optimizer and "
                                    "-inf entries (zero masses); refuses sampled training.")
    default_optimizer = attribute(None, "The optimizer table used when the scenario gives "
                                        "none, e.g. {'kind': 'adam', 'lr': 0.01}. None: "
                                        "gamesim.defaults.OPTIMIZER.")

    @optional
    def param_values(self, theta):
        """A dict of named numbers, recorded as ``g.NAME`` columns of metrics.csv. Default:
        each entry of a vector of at most 8, else its norm."""

    @optional
    def transform(self, theta):
        """``(z, x)``: G(z) at noise points z in (0, 1), two vectors of one shape, for the
        `transform` plot. Default: no such plot."""

    @optional
    def sample(self, theta, z):
        """G_theta(z) at noise points ``z`` in (0, 1), positions in x, the shape of z.
        Required by sampled training."""

    @optional
    def sample_vjp(self, theta, z, g_x):
        """sum_j g_x[j] dG_theta(z_j)/dtheta, the shape of theta. Required by sampled
        training."""

    @optional
    def forward_log(self, theta):
        """``(p_g, mass_outside, log_p_g)``: ``forward``'s masses and their logs, -inf where a
        logit is (finite where a mass underflowed to 0), for a generator that has them for
        less than a logarithm a cell (the `density` generator: theta - max - log sum
        e^(theta - max)). Against an objective with ``oracle_log`` the engine plays the
        oracle from them. Default: ``forward`` only."""

    @optional
    def vjp_cells(self, theta):
        """The cells whose ``g_p`` ``vjp(theta, g_p)`` reads, an int vector in increasing
        order (a change of g_p elsewhere leaves the result unchanged), or None for all; with
        an objective's ``generator_grad_at`` the engine computes g_p at those cells only (a
        point generator reads two of N). Default: None."""

    @optional
    def jacobian_steps(self, theta):
        """Finite-difference steps for differentiating the players' gradients in theta, one
        per parameter (the shape of theta): the smallest change of each parameter over which
        the generator's gradient is resolved. A node generator's deposit is cloud-in-cell, so
        its gradient is constant while the deposit stays in the same cells: its steps move
        a node by a cell. The stability analysis and consensus optimization use steps at
        least this large (docs/stability.md). Default: smooth steps (1e-5 relative)."""


class Discriminator(OnGrid):
    """The discriminator (or critic): raw outputs u(psi) at the cell centres, read as the
    objective's ``output`` says."""

    kind = "discriminator"
    waived_by = "oracle"

    oracle = attribute(False, "True: no parameters; every iteration the engine plays the "
                              "objective's exact best response `objective.oracle(p_d, p_g)`, "
                              "and the required methods are not needed. Exact training only.")

    @required
    def init_params(self, rng):
        """The initial parameters psi, a flat float64 vector; ``rng`` is a seeded numpy
        Generator (the discriminator's own stream)."""

    @required
    def forward(self, psi):
        """u at the cell centres, shape (N,): logits when the objective's ``output`` is
        "logit" (D = sigma(u)), D itself for "probability", critic values for "critic"."""

    @required
    def vjp(self, psi, g_u):
        """sum_i g_u[i] du_i/dpsi, the shape of psi."""

    @optional
    def param_values(self, psi):
        """A dict of named numbers, recorded as ``d.NAME`` columns of metrics.csv. Default:
        each entry of a vector of at most 8, else its norm."""

    @optional
    def dudx(self, psi):
        """du/dx at the cell centres, shape (N,) (x in the grid's units). Required by
        regularizers with ``needs_dudx``."""

    @optional
    def dudx_vjp(self, psi, g):
        """sum_i g[i] d(du/dx)_i/dpsi, the shape of psi; defined with ``dudx``."""

    @optional
    def forward_at(self, psi, x):
        """u at arbitrary points ``x``, the shape of x. Required by sampled training."""

    @optional
    def vjp_at(self, psi, x, g_u):
        """sum_j g_u[j] du(x_j)/dpsi, the shape of psi. Required by sampled training."""

    @optional
    def dudx_at(self, psi, x):
        """du/dx at arbitrary points ``x``. Required by sampled training (the generator's
        gradient flows through it)."""


class Objective(OnGrid):
    """The game's value V_D(p_d, p_g, u), which D maximizes, and G's loss L_G. Gradients are
    with respect to the raw outputs u (or the masses p_g), elementwise, shape (N,). Cells
    whose weight is 0 contribute nothing (0 log 0 = 0): disjoint supports give no NaN."""

    kind = "objective"

    output = attribute(doc="'logit', 'probability' or 'critic': how u is read, whether D or "
                           "the critic is saved, and whether d_max_dev is recorded.",
                       required=True)

    @required
    def value(self, p_d, p_g, u):
        """V_D, a float: recorded as ``value``."""

    @required
    def discriminator_grad(self, p_d, p_g, u):
        """d(-V_D)/du, shape (N,): D descends it."""

    @required
    def generator_grad(self, p_d, p_g, u):
        """dL_G/dp_g, shape (N,): the generator's loss as a function of its masses."""

    @required
    def oracle(self, p_d, p_g):
        """D's exact best response, as raw outputs u, shape (N,); finite (logits are
        clipped, never +-inf)."""

    @optional
    def oracle_log(self, p_d, p_g, log_p_g):
        """``oracle(p_d, p_g)`` given also log p_g (a generator's ``forward_log``), equal to
        it within rounding, without taking the log of p_g. Default: ``oracle``."""

    @optional
    def generator_grad_at(self, p_d, p_g, u, cells):
        """``generator_grad`` at the given ``cells`` (a generator's ``vjp_cells``), shape
        (N,), the same numbers there; any values elsewhere (0 by convention). Default:
        ``generator_grad``."""

    equilibrium = attribute(None, "V_D at p_g = p_d against the oracle (-log 4 for "
                                  "minimax), drawn in the convergence plot. None: not drawn.")

    @optional
    def oracle_value(self, p_d, p_g):
        """V_D against the oracle, a float, in the closed form the objective documents (for
        minimax -log 4 + 2 JS(p_d || p_g)), computed independently of ``oracle`` and
        ``value``: a run against the oracle checks ``value`` against it at every recorded
        row (docs/design.md, "Numerics")."""

    @optional
    def discriminator_terms(self, u_data, u_gen):
        """``(a, da, b, db)``: V_D's per-sample terms, a at data points and b at generated
        ones (V_D is estimated as mean(a) + mean(b)), and their derivatives in u. Required by
        sampled training."""

    @optional
    def generator_terms(self, u_gen):
        """``(c, dc)``: L_G's per-sample term at generated points and its derivative in u.
        Required by sampled training."""


class Distance(OnGrid):
    """A discrepancy Delta(p, q) between the data p and the generated q (a metric, a
    divergence or a squared distance: docs/distances.md states each built-in's)."""

    kind = "distance"

    @required
    def value(self, p, q):
        """Delta(p, q) >= 0, 0 when p = q; may be inf, never NaN."""

    @required
    def grad(self, p, q):
        """dDelta/dq, shape (N,); +-inf allowed only where p or q is 0, never NaN."""

    @optional
    def sample_value_grad(self, x, y, unbiased):
        """``(value, g_y)``: the distance between the samples ``x`` (data) and ``y``
        (generated) and its gradient in y; ``unbiased`` asks for a U-statistic where one
        exists. Required by sampled direct mode."""


class Optimizer(Plugin):
    """A step rule for one player's flat parameter vector. Optimizers never see the grid."""

    kind = "optimizer"

    @required
    def init_state(self, theta):
        """The per-player state: None, an array, or dicts and lists of arrays, numbers and
        None, of its full size from the start (see gamesim.optstate)."""

    @required
    def step(self, theta, grad, state):
        """The new parameters (theta may be stepped in place and returned). ``state`` is
        updated in place: the engine keeps the object ``init_state`` returned. Nothing is
        kept on the optimizer itself."""

    @optional
    def lookahead(self, theta, grad, state):
        """The extrapolated point, a new vector (theta untouched): the engine takes both
        players' gradients there and passes them to ``step`` (extragradient). Default: no
        extrapolation."""

    not_differentiable = attribute(None, "A sentence saying why the step has no Jacobian at a "
                                         "fixed point (Adam: m / (sqrt(v) + eps) at m = v = "
                                         "0); the stability analysis then gives the gradient "
                                         "flow's analysis only, with this reason. None: the "
                                         "step is differentiable there.")

    requires_logit_params = attribute(False, "True: `grad` is dL/dp (not dL/dtheta) and theta "
                                             "are mass logits (the `mirror` step); refused "
                                             "for generators without `logit_params` and for "
                                             "discriminators.")

    @optional
    def state_vector(self, state):
        """The state as a flat float64 vector; defined with ``load_state_vector`` or not at
        all. Default: the generic walk of gamesim.optstate."""

    @optional
    def load_state_vector(self, state, vector):
        """Write ``vector`` (from ``state_vector``) back into ``state`` in place."""


class Regularizer(OnGrid):
    """A parametrized discriminator's regularizer: a penalty, a projection, or both."""

    kind = "regularizer"
    one_of = ("penalty", "project")

    @optional
    def penalty(self, disc, psi, p_d, p_g):
        """``(value, g_psi)``: a term D adds to the loss it descends (-V_D + penalty), >= 0,
        and its gradient in psi. The recorded ``value`` stays V_D."""

    @optional
    def project(self, psi):
        """psi after each of D's steps (weight clipping), the shape of psi."""

    needs_dudx = attribute(False, "True: the penalty reads `disc.dudx` and `disc.dudx_vjp`; "
                                  "refused with a discriminator that lacks them.")

    @optional
    def kink(self, disc, psi, p_d, p_g):
        """Why the penalty or the projection has no Jacobian at psi (a sentence: a kink of
        the penalty, an active projection), or None where it is differentiable. The stability
        analysis states the reason there instead of eigenvalues. Default: differentiable
        everywhere."""


PROTOCOLS = {cls.kind: cls for cls in (Target, Generator, Discriminator, Objective, Distance,
                                       Optimizer, Regularizer)}
"""kind (singular) -> its protocol class."""


def members(kind):
    """The members of ``kind``'s protocol by name, the shared ones (validate, setup) first."""
    found = {}
    for cls in reversed(PROTOCOLS[kind].__mro__):
        found.update((name, m) for name, m in vars(cls).items() if isinstance(m, Member))
    return found


def required_names(kind):
    """The members every ``kind`` plugin defines (a discriminator with ``oracle = True``
    excepted), in declaration order."""
    return tuple(name for name, m in members(kind).items() if m.required)


def optional_names(kind):
    """The optional capabilities of ``kind``, in declaration order."""
    return tuple(name for name, m in members(kind).items() if not m.required)


def _defaults():
    """capability name -> default, over every kind; a name optional in several kinds has one
    default, so :func:`capability` needs no kind."""
    table = {}
    for kind in PROTOCOLS:
        for name, m in members(kind).items():
            if not m.required:
                assert table.get(name, m.default) == m.default, name
                table[name] = m.default
    return table


DEFAULTS = _defaults()


def capability(plugin, name):
    """The optional member ``name`` of ``plugin`` (an instance or a class), or its protocol's
    default if the plugin does not define it."""
    default = DEFAULTS[name]  # a KeyError for a name no protocol declares optional: a typo
    value = getattr(plugin, name, default)
    return default if isinstance(value, Member) else value


def has(plugin, name):
    """Whether ``plugin`` provides the optional member ``name`` (defined and not None or
    False: a generator may set ``transform = None`` to opt out)."""
    value = capability(plugin, name)
    return value is not None and value is not False


def faster(plugin, name, plain):
    """Whether ``plugin`` offers the optional member ``name`` as a faster form of its member
    ``plain`` (``forward_log`` of ``forward``, ``oracle_log`` of ``oracle``): it has ``name``
    and ``plain`` was not redefined after it, by a subclass or on the instance, which would
    leave the inherited fast form computing what ``plain`` no longer does."""
    if not has(plugin, name):
        return False
    own = getattr(plugin, "__dict__", {}) if not isinstance(plugin, type) else {}
    if plain in own:
        return name in own
    for cls in (plugin if isinstance(plugin, type) else type(plugin)).__mro__:
        if name in vars(cls):
            return True
        if plain in vars(cls):
            return False
    return False


def fills(plugin, method):
    """Whether the engine may call ``plugin``'s ``method`` with ``out=``: it is listed in
    ``out_methods`` and was not redefined after that list (a subclass's own ``method`` need
    not take ``out``)."""
    return method in (capability(plugin, "out_methods") or ()) and \
        faster(plugin, "out_methods", method)


def defines(plugin, name):
    """Whether ``plugin`` defines ``name`` itself (a protocol's declaration does not count)."""
    return not isinstance(getattr(plugin, name, Member()), Member)


def problem(kind, cls):
    """Why the class ``cls`` is not a valid ``kind`` plugin (a sentence), or None if it is."""
    protocol = PROTOCOLS[kind]
    if protocol.waived_by and capability(cls, protocol.waived_by):
        return None
    if protocol.one_of and not any(defines(cls, n) for n in protocol.one_of):
        return f"defines none of {', '.join(protocol.one_of)}: a {kind} needs one of them"
    needed = required_names(kind)
    missing = [n for n in needed if not defines(cls, n)]
    if missing:
        waiver = f" (or {protocol.waived_by} = True)" if protocol.waived_by else ""
        return f"lacks {', '.join(missing)}: a {kind} defines {', '.join(needed)}{waiver}"
    return None
