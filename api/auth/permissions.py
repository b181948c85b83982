"""The permission matrix: `resource:action` permissions granted to each role. docs/roles.md shows the same table."""

from __future__ import annotations

from enum import StrEnum

from schemas.enums import Role


class Permission(StrEnum):
    CASE_READ = "case:read"
    CASE_READ_ALL = "case:read_all"  # every case, not only those one created or is assigned to
    CASE_READ_RESTRICTED = "case:read_restricted"  # cases marked `restricted` that one did not create
    CASE_CREATE = "case:create"
    CASE_UPDATE = "case:update"  # cases one may see and created or is assigned to
    CASE_UPDATE_ALL = "case:update_all"
    CASE_ASSIGN = "case:assign"
    CASE_RETRACT = "case:retract"
    PERSON_READ = "person:read"
    PERSON_WRITE = "person:write"
    PERSON_READ_IDENTITY = "person:read_identity"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    INVOLVEMENT_WRITE = "involvement:write"
    TESTIMONY_READ = "testimony:read"
    TESTIMONY_WRITE = "testimony:write"
    ORGANISATION_WRITE = "organisation:write"
    HISTORY_READ = "history:read"
    EVIDENCE_READ = "evidence:read"
    EVIDENCE_UPLOAD = "evidence:upload"
    EVIDENCE_DOWNLOAD = "evidence:download"
    EVIDENCE_VERIFY = "evidence:verify"
    CUSTODY_READ = "custody:read"
    TAXONOMY_READ = "taxonomy:read"
    TAXONOMY_MANAGE = "taxonomy:manage"
    STATS_READ = "stats:read"
    EXPORT_RESEARCH = "export:research"
    EXPORT_ILO = "export:ilo"
    EXPORT_ITUC = "export:ituc"
    EXPORT_HURIDOCS = "export:huridocs"
    EXPORT_BUNDLE = "export:bundle"
    TEXT_CLEAR = "text:clear"  # propose, correct and approve cleared free text for an outside audience
    MEDIA_REVIEW = (
        "media:review"  # make, review and approve (or refuse) audio/video copies for outside audiences
    )
    USER_MANAGE = "user:manage"
    AUDIT_READ = "audit:read"


P = Permission

_RESEARCHER = {
    P.CASE_READ,
    P.CASE_READ_ALL,
    P.PERSON_READ,
    P.TESTIMONY_READ,
    P.HISTORY_READ,
    P.EVIDENCE_READ,
    P.CUSTODY_READ,
    P.TAXONOMY_READ,
    P.STATS_READ,
    P.EXPORT_RESEARCH,
}

_DOCUMENTER = {
    P.CASE_READ,
    P.CASE_CREATE,
    P.CASE_UPDATE,
    P.CASE_RETRACT,
    P.PERSON_READ,
    P.PERSON_WRITE,
    P.PERSON_READ_IDENTITY,
    P.CONSENT_READ,
    P.CONSENT_WRITE,
    P.INVOLVEMENT_WRITE,
    P.TESTIMONY_READ,
    P.TESTIMONY_WRITE,
    P.ORGANISATION_WRITE,
    P.HISTORY_READ,
    P.EVIDENCE_READ,
    P.EVIDENCE_UPLOAD,
    P.EVIDENCE_DOWNLOAD,
    P.EVIDENCE_VERIFY,
    P.CUSTODY_READ,
    P.TAXONOMY_READ,
    P.STATS_READ,
    P.EXPORT_BUNDLE,
}

_COORDINATOR = (
    _DOCUMENTER
    | _RESEARCHER
    | {
        P.CASE_READ_RESTRICTED,
        P.CASE_UPDATE_ALL,
        P.CASE_ASSIGN,
        P.EXPORT_ILO,
        P.EXPORT_ITUC,
        P.EXPORT_HURIDOCS,
        P.TEXT_CLEAR,
        P.MEDIA_REVIEW,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.COORDINATOR: frozenset(_COORDINATOR),
    Role.DOCUMENTER: frozenset(_DOCUMENTER),
    Role.RESEARCHER: frozenset(_RESEARCHER),
}


def permissions_for(role: Role | str) -> frozenset[Permission]:
    """Return the permissions a role grants (none for an unknown role: fail closed)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def matrix_markdown() -> str:
    """Render the matrix as the Markdown table docs/roles.md carries."""
    roles = list(Role)
    lines = ["| permission | " + " | ".join(r.value for r in roles) + " |", "|---|" + "---|" * len(roles)]
    for perm in Permission:
        marks = " | ".join("✓" if perm in ROLE_PERMISSIONS[r] else "" for r in roles)
        lines.append(f"| `{perm.value}` | {marks} |")
    return "\n".join(lines)
