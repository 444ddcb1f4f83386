"""UNESCO's regions: every demo country has one, the codes are ISO codes, the five
regions have words in every portal language."""

from __future__ import annotations

from babel import Locale

from web.demo_data import PLACES
from web.i18n import LANGUAGES, translator
from workflow.regions import REGION_OF, REGIONS, region_of


def test_the_demo_countries_all_have_their_region() -> None:
    missing = sorted({p.code for p in PLACES} - set(REGION_OF))
    assert not missing


def test_regions_are_unesco_s_five_and_codes_are_iso() -> None:
    assert len(REGIONS) == 5 and set(REGION_OF.values()) == set(REGIONS)
    territories = Locale.parse("en").territories
    assert all(code in territories for code in REGION_OF)
    assert len(REGION_OF) >= 194  # every Member State (and the Associate Members)
    # UNESCO's grouping, not geography alone
    assert region_of("il") == region_of("TR") == region_of("CA") == "europe_north_america"
    assert region_of("DJ") == region_of("SO") == "africa"
    assert region_of("MA") == region_of("SD") == "arab_states"
    assert region_of("KZ") == region_of("AU") == "asia_pacific"
    assert region_of("JM") == "latin_america_caribbean"
    assert region_of("XK") == region_of(None) == ""


def test_region_names_in_every_language() -> None:
    for lang in LANGUAGES:
        t = translator(lang)
        names = {t(f"region.{key}") for key in REGIONS}
        assert len(names) == 5 and not any(name.startswith("region.") for name in names)
    assert translator("fr")("region.arab_states") == "États arabes"
