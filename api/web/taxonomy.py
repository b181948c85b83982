"""The taxonomy as pages show it: node names in the page language, the norms a category concerns written out
for people (with the research's verification marker), and the tree the case form's picker renders.

Everything comes from ``api.taxonomy.service`` (the tree, a node's own and inherited norms); this module only
words it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from api import i18n
from api.auth.security import Actor
from api.i18n import N_
from api.problems import NotFound
from api.taxonomy import service as taxonomy_service
from schemas.taxonomy import (
    CfaCaseRef,
    CfaCompilationRef,
    CfaDigestRef,
    HuridocsRef,
    IloInstrumentRef,
    ItucGroupRef,
)
from schemas.taxonomy_api import NormRead, TaxonomyNodeRead

# What each marker means, as the research that mapped the norms uses it.
VERIFICATION_NAMES: dict[str, str] = {
    "seen": N_("seen in the source"),
    "partly_seen": N_("partly seen in the source"),
    "inferred": N_("inferred, not seen in the source"),
    "unverified": N_("not verified"),
}


def node_label(labels: Any) -> str:
    """A node's name in the page language (names exist in en, be and ru)."""
    lang = i18n.active_language()
    value = labels.get(lang) if isinstance(labels, dict) else getattr(labels, lang, None)
    if value:
        return str(value)
    return str(labels.get("en") if isinstance(labels, dict) else labels.en)


def norm_text(norm: NormRead) -> str:
    """One norm reference in words: 'ILO C87, Art. 8(2)', 'CFA Compilation (2018), ch. 2: Preventive detention'."""
    ref = norm.reference
    _ = i18n.gettext
    if isinstance(ref, IloInstrumentRef):
        text = _("ILO %(instrument)s") % {"instrument": ref.instrument}
        if ref.article:
            text += ", " + _("Art. %(article)s") % {"article": ref.article}
        elif ref.articles:
            text += ", " + _("Arts. %(articles)s") % {"articles": ", ".join(ref.articles)}
        return text
    if isinstance(ref, CfaCompilationRef):
        text = _("CFA Compilation (%(year)d)") % {"year": ref.edition}
        if ref.chapter:
            text += ", " + _("ch. %(chapter)d") % {"chapter": ref.chapter}
        if ref.section:
            text += f": {ref.section}"
        if ref.paragraph:
            text += ", " + _("para. %(paragraph)s") % {"paragraph": ref.paragraph}
        return text
    if isinstance(ref, CfaDigestRef):
        text = _("CFA Digest (%(year)d)") % {"year": ref.edition}
        if ref.paragraphs:
            text += ", " + _("paras. %(paragraphs)s") % {"paragraphs": ref.paragraphs}
        if ref.section:
            text += f": {ref.section}"
        return text
    if isinstance(ref, CfaCaseRef):
        text = _("CFA case No. %(number)d (%(country)s)") % {"number": ref.case_no, "country": ref.country}
        return text + ", " + _("report %(report)d") % {"report": ref.report} if ref.report else text
    if isinstance(ref, ItucGroupRef):
        return _("ITUC Global Rights Index, group %(group)s") % {"group": ref.group}
    if isinstance(ref, HuridocsRef):
        text = _("HURIDOCS list %(number)d, %(code)s") % {"number": ref.thesaurus, "code": ref.code}
        return f"{text}: {ref.label}" if ref.label else text
    return f"{ref.title}, {ref.provision}" if ref.provision else ref.title


@dataclass
class CategoryView:
    """A case's category as its page shows it: name, code, whether main, and the norms it concerns."""

    code: str
    labels: Any
    main: bool
    norms: list[NormRead] = field(default_factory=list)
    inherited: list[NormRead] = field(default_factory=list)
    known: bool = True


def case_categories(*, session: Session, codes: list[str], primary: str | None) -> list[CategoryView]:
    """The case's categories with the norms each concerns (its own, then those of the areas above it)."""
    views = []
    for code in codes:
        try:
            detail = taxonomy_service.node_detail(session=session, code=code)
        except NotFound:
            views.append(CategoryView(code=code, labels={"en": code}, main=code == primary, known=False))
            continue
        own = {norm_text_key(n) for n in detail.node.norms}
        views.append(
            CategoryView(
                code=code,
                labels=detail.node.labels,
                main=code == primary,
                norms=detail.node.norms,
                inherited=[n for n in detail.inherited_norms if norm_text_key(n) not in own],
            )
        )
    return views


def norm_text_key(norm: NormRead) -> str:
    return norm.reference.model_dump_json()


def picker_tree(*, session: Session, actor: Actor) -> list[TaxonomyNodeRead]:
    """The current taxonomy (retired nodes left out) for the case form's picker."""
    return taxonomy_service.tree(session=session, actor=actor, counts=False)


def has_selected(code: str, selected: list[str]) -> bool:
    """Whether `code` or anything filed below it is among the selected codes (codes nest by prefix)."""
    return any(c == code or c.startswith(code + ".") for c in selected)


def verification_name(key: str) -> str:
    """What a verification marker means, in the page language."""
    return i18n.gettext(VERIFICATION_NAMES.get(key, key))
