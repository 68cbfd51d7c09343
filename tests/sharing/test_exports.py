"""The public names of the field, encoding and sharing modules are pinned: changing them is deliberate."""

from __future__ import annotations

import importlib

import pytest

EXPORTS = {
    "veil.field": ["MERSENNE61", "Csprng", "Field", "FieldArray", "default_field", "is_prime"],
    "veil.encoding": [
        "decode_fixed",
        "decode_signed",
        "encode_fixed",
        "encode_signed",
        "signed_range",
    ],
    "veil.sharing.additive": ["reconstruct", "share"],
    "veil.sharing.shamir": [
        "correctable_errors",
        "evaluation_matrix",
        "lagrange_coefficients",
        "lagrange_matrix",
        "reconstruct",
        "robust_reconstruct",
        "share",
        "vandermonde",
    ],
    "veil.sharing.checking": [
        "DEFAULT_CC_PAIRS_HALF",
        "CCHolding",
        "CCKeys",
        "Holding",
        "Key",
        "accept_cc",
        "check_against_key",
        "check_combination",
        "check_disclosed",
        "choose_opened",
        "combine",
        "combine_linear",
        "cut_and_choose_error_bits",
        "deal",
        "deal_cc",
        "dealer_audit",
        "dealer_check_disclosure",
        "disclose",
        "key_combination",
        "linear_key",
        "powers",
        "verify",
    ],
    "veil.sharing.vss": [
        "DEFAULT_SECURITY_BITS",
        "DealerVerdict",
        "Dealing",
        "WSSDealing",
        "WSSOutcome",
        "check_polynomials",
        "combined_shares",
        "deal",
        "deal_wss",
        "degree_verdict",
        "evaluate_checks",
        "repetitions_needed",
        "verify_against_check",
        "wss_decide",
    ],
}


@pytest.mark.parametrize("module_name", sorted(EXPORTS))
def test_the_module_exports_exactly_its_public_names(module_name: str) -> None:
    """``__all__`` lists exactly the pinned names, and each of them exists."""
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(EXPORTS[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name
