"""Every table, imported here so SQLModel.metadata is complete for Alembic and the tests."""

from api.models.audit import AuditEvent
from api.models.case import Case, CaseAssignment, CaseCategory, CaseTag, ReferenceCounter
from api.models.clearing import ClearedText
from api.models.custody import CustodyEvent, CustodyTreeHead
from api.models.evidence import EvidenceBlob, EvidenceItem
from api.models.export import ExportRecord
from api.models.involvement import Involvement
from api.models.media_review import MediaReview
from api.models.person import Consent, Organisation, Person, PersonIdentity
from api.models.revision import Revision
from api.models.search import CaseText
from api.models.taxonomy import TaxonomyClosure, TaxonomyNode, TaxonomyVersion, VocabularyTerm
from api.models.testimony import Testimony
from api.models.user import ApiToken, LoginAttempt, RecoveryCode, User
from api.models.web import Draft

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Case",
    "CaseAssignment",
    "CaseCategory",
    "CaseTag",
    "CaseText",
    "ClearedText",
    "Consent",
    "CustodyEvent",
    "CustodyTreeHead",
    "Draft",
    "EvidenceBlob",
    "EvidenceItem",
    "ExportRecord",
    "Involvement",
    "LoginAttempt",
    "MediaReview",
    "Organisation",
    "Person",
    "PersonIdentity",
    "RecoveryCode",
    "ReferenceCounter",
    "Revision",
    "TaxonomyClosure",
    "TaxonomyNode",
    "TaxonomyVersion",
    "Testimony",
    "User",
    "VocabularyTerm",
]
