"""The --rule table: which pabutools computation each rule key means for each vote type."""

from __future__ import annotations

from votes.pabulib import APPROVAL_TYPES, POINTS_TYPES

RULES = (
    "greedy",
    "greedy-per-cost",
    "mes",
    "mes-approval",
    "mes-cardinality",
    "mes-add1",
    "mes-add1-greedy",
    "phragmen",
)

# The --rule table: rule key -> pabutools computation, per vote type
# (choose-1 is approval; scoring is treated like cumulative).
RULE_METHODS: dict[str, dict[str, str]] = {
    "approval": {
        "greedy": "greedy_cost_sat",
        "greedy-per-cost": "greedy_cardinality_sat",
        "mes": "mes_cost_sat",
        "mes-approval": "mes_cost_sat",
        "mes-cardinality": "mes_cardinality_sat",
        "mes-add1": "mes_cost_sat_add1",
        "mes-add1-greedy": "mes_cost_sat_add1_then_greedy_cost_sat",
        "phragmen": "sequential_phragmen",
    },
    "cumulative": {
        "greedy": "greedy_points_cost_sat",
        "greedy-per-cost": "greedy_additive_cardinal_sat",
        "mes": "mes_additive_cardinal_sat",
        "mes-approval": "mes_cost_sat",
    },
    "ordinal": {
        "greedy": "greedy_cost_sat",
        "greedy-per-cost": "greedy_additive_borda_sat",
        "mes": "mes_additive_borda_sat",
        "mes-approval": "mes_cost_sat",
    },
}

# Satisfaction kinds, named after pabutools' classes:
#   cost        Cost_Sat              cost of each chosen project (points/rank ignored)
#   card        Cardinality_Sat       1 per chosen project
#   points      Additive_Cardinal_Sat the points given
#   points_cost Points_Cost_Sat       points x cost (greedy by total points)
#   borda       Additive_Borda_Sat    len(ballot) - position - 1
GREEDY_KIND = {
    "greedy_cost_sat": "cost",
    "greedy_cardinality_sat": "card",
    "greedy_points_cost_sat": "points_cost",
    "greedy_additive_cardinal_sat": "points",
    "greedy_additive_borda_sat": "borda",
}
MES_KIND = {
    "mes_cost_sat": "cost",
    "mes_cardinality_sat": "card",
    "mes_additive_cardinal_sat": "points",
    "mes_additive_borda_sat": "borda",
}


class RuleError(ValueError):
    """Raised for an unknown rule or a rule not defined for the vote type."""


def base_vote_type(vote_type: str) -> str:
    """Return the rule-table column for a vote type (approval, cumulative or ordinal)."""
    if vote_type in APPROVAL_TYPES:
        return "approval"
    if vote_type in POINTS_TYPES:
        return "cumulative"
    if vote_type == "ordinal":
        return "ordinal"
    raise RuleError(f"unsupported vote type {vote_type!r}")


def rules_for(vote_type: str) -> list[str]:
    """Return the rule keys defined for a vote type."""
    return list(RULE_METHODS[base_vote_type(vote_type)])


def method_for(vote_type: str, rule: str) -> str:
    """Return the pabutools computation a rule key means for a vote type, or raise RuleError."""
    if rule not in RULES:
        raise RuleError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    column = base_vote_type(vote_type)
    methods = RULE_METHODS[column]
    if rule not in methods:
        raise RuleError(
            f"rule {rule!r} is not defined for {vote_type} ballots; "
            f"rules for {vote_type}: {', '.join(methods)}"
        )
    return methods[rule]
