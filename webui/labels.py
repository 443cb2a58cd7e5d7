"""Words for the domain's codes, said once for every page: categories, people's roles, offender types.

Categories and roles come from tracker.packaging.vocabulary, which the reports read too."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from storage.models import OffenderKind, Role
from tracker.packaging import vocabulary

#: the guideline's three definitions (DOMAIN.md "Definitions"); tracker.cases.lifecycle.CATEGORIES holds the codes
CATEGORY_LABELS = {code: _l(msgid) for code, msgid in vocabulary.CATEGORIES.items()}
NOT_ASSESSED = _l("Not assessed")

PERSON_ROLE_LABELS = {Role(code): _l(msgid) for code, msgid in vocabulary.PERSON_ROLES.items()}

#: the guideline's offender types (DOMAIN.md "Offender types")
OFFENDER_KIND_LABELS = {
    OffenderKind.grieving_relative.value: _l("The grieving relative"),
    OffenderKind.aggrieved_citizen.value: _l("The aggrieved citizen"),
    OffenderKind.professional_querulant.value: _l("The professional querulant"),
}

#: where create_app keeps the checked rule files and the platform directory in force
RULES_KEY = "vaern.rules"
PLATFORMS_KEY = "vaern.platforms"
#: the rule files in force the two keys above were taken from (webui.rules_admin compares it with the runtime's)
IN_FORCE_KEY = "vaern.in_force"
