"""UNESCO's five regions and the region of each country by its ISO 3166-1 code.

UNESCO groups its Member States and Associate Members in five regions for its
programmes and statistics: Africa, Arab States, Asia and the Pacific, Europe and North
America, Latin America and the Caribbean. ``REGION_OF`` maps the code of every Member
State and Associate Member to its region, as UNESCO lists them (Israel, Cyprus and
Türkiye are in Europe and North America; Djibouti, Somalia and the Comoros in Africa;
Central Asia in Asia and the Pacific). A code outside the list (a territory that is not a
member) has no region until an administrator sets one: ``region_of`` answers "".
"""

from __future__ import annotations

#: The regions' keys, in UNESCO's order; ``region.<key>`` is the message id of the name.
AFRICA = "africa"
ARAB_STATES = "arab_states"
ASIA_PACIFIC = "asia_pacific"
EUROPE_NORTH_AMERICA = "europe_north_america"
LATIN_AMERICA_CARIBBEAN = "latin_america_caribbean"
REGIONS: tuple[str, ...] = (
    AFRICA,
    ARAB_STATES,
    ASIA_PACIFIC,
    EUROPE_NORTH_AMERICA,
    LATIN_AMERICA_CARIBBEAN,
)

_MEMBERS: dict[str, str] = {
    AFRICA: (
        "AO BF BI BJ BW CD CF CG CI CM CV DJ ER ET GA GH GM GN GQ GW KE KM LR LS MG ML MU "
        "MW MZ NA NE NG RW SC SL SN SO SS ST SZ TD TG TZ UG ZA ZM ZW"
    ),
    ARAB_STATES: "AE BH DZ EG IQ JO KW LB LY MA MR OM PS QA SA SD SY TN YE",
    ASIA_PACIFIC: (
        "AF AU BD BN BT CK CN FJ FM ID IN IR JP KG KH KI KP KR KZ LA LK MH MM MN MV MY NP "
        "NR NU NZ PG PH PK PW SB SG TH TJ TL TM TO TV UZ VN VU WS"
        " MO NC TK"  # Associate Members: Macao (China), New Caledonia, Tokelau
    ),
    EUROPE_NORTH_AMERICA: (
        "AD AL AM AT AZ BA BE BG BY CA CH CY CZ DE DK EE ES FI FR GB GE GR HR HU IE IL IS "
        "IT LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SK SM TR UA US"
        " FO"  # Associate Member: the Faroes
    ),
    LATIN_AMERICA_CARIBBEAN: (
        "AG AR BB BO BR BS BZ CL CO CR CU DM DO EC GD GT GY HN HT JM KN LC MX NI PA PE PY "
        "SR SV TT UY VC VE"
        " AI AW CW KY MS SX VG"  # Associate Members in the Caribbean
    ),
}

#: The region of each Member State and Associate Member, by ISO 3166-1 alpha-2 code.
REGION_OF: dict[str, str] = {
    code: region for region, codes in _MEMBERS.items() for code in codes.split()
}


def region_of(code: str | None) -> str:
    """The UNESCO region of the country ``code`` ("LV": "europe_north_america"), or ""
    for a code that is not a member's."""
    return REGION_OF.get((code or "").strip().upper(), "")
