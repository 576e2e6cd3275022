"""Why a Neutron resource cannot be translated, in words for an operator."""


class TranslationError(ValueError):
    """The resource is refused as it is; Neutron's journal keeps the message."""
