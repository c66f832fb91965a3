"""Building organisations with a unit hierarchy, people, a samverkansgrupp and a role roster.

Used by ``chefoskop demo`` (the fictional Västra Söderbotten) and by ``simulate``.
Everything is derived from a seeded random generator, so the same seed gives the
same organisation.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from flows.engine import RoleSpec
from models import Body, BodyMember, Organisation, Person, Unit

FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per",
         "Lena", "Mikael", "Kristina", "Fredrik", "Emma", "Jonas", "Ingrid", "Magnus", "Elin",
         "Oskar", "Sofia", "Niklas", "Helena", "Ali", "Fatima", "Henrik", "Linnea", "Amir",
         "Ulla", "Björn", "Åsa", "Göran", "Maja", "Nils", "Ebba", "Yusuf")
LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
        "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist",
        "Berg", "Sandberg", "Holm", "Åberg", "Ek", "Hassan", "Lund", "Strand", "Nyström",
        "Björk", "Söderberg", "Mohammed", "Forsberg", "Hedlund", "Sjöberg", "Öberg")
B_UNITS = ("Vård och omsorg", "Utbildning", "Samhällsbyggnad", "Kultur och fritid",
           "Individ och familj", "Teknik och service")
C_KINDS = {
    "Vård och omsorg": ("Hemtjänst", "Särskilt boende", "Korttidsboende", "Hemsjukvård"),
    "Utbildning": ("Skola", "Förskola", "Fritidshem", "Gymnasium"),
    "Samhällsbyggnad": ("Bygglov", "Miljö", "Planering", "Mark och exploatering"),
    "Kultur och fritid": ("Bibliotek", "Fritidsgård", "Idrottsanläggningar", "Kulturskola"),
    "Individ och familj": ("Barn och unga", "Ekonomiskt bistånd", "Missbruk", "Familjerätt"),
    "Teknik och service": ("Kost", "Lokalvård", "Gata och park", "Fastighet"),
}
PLACES = ("Norr", "Söder", "Öster", "Väster", "Centrum", "Ådalen", "Bäckby", "Strand", "Höjden")


@dataclass
class SeededOrganisation:
    """An organisation with its people by role and the roster for a process."""

    organisation: Organisation
    roster: list[RoleSpec] = field(default_factory=list)
    by_role: dict[str, list[Person]] = field(default_factory=dict)
    samverkan: Body | None = None


def slugify(text: str) -> str:
    """A lowercase ASCII slug of ``text``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


class _People:
    def __init__(self, session: Session, org: Organisation, rng: random.Random) -> None:
        self.session, self.org, self.rng, self.used = session, org, rng, set()

    def make(self, title: str, unit: Unit | None, **extra) -> Person:
        while True:
            name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
            local = slugify(name).replace("-", ".")
            email = f"{local}@{self.org.slug}.se"
            if email not in self.used:
                break
            email = f"{local}{len(self.used)}@{self.org.slug}.se"
            if email not in self.used:
                break
        self.used.add(email)
        person = Person(organisation_id=self.org.id, unit_id=unit.id if unit else None,
                        name=name, email=email, title=title, locale="sv", **extra)
        self.session.add(person)
        self.session.flush()
        return person


def _unit(session: Session, org: Organisation, code: str, name: str, level: str,
          parent: Unit | None) -> Unit:
    unit = Unit(organisation_id=org.id, code=code, name=name, level=level,
                parent_id=parent.id if parent else None)
    session.add(unit)
    session.flush()
    return unit


def build_organisation(session: Session, name: str, managers: int, seed: int,
                       kind: str = "kommun") -> SeededOrganisation:
    """Create an organisation with ``managers`` first-line managers and every role filled."""
    rng = random.Random(seed)
    org = Organisation(name=name, slug=slugify(name), kind=kind, locale="sv")
    session.add(org)
    session.flush()
    out = SeededOrganisation(org)
    ppl = _People(session, org, rng)
    top = _unit(session, org, "A1", "Kommunledningen" if kind == "kommun" else "Ledningen", "A", None)
    b_count = max(1, min(len(B_UNITS), round(managers / 8) or 1))
    b_units = [_unit(session, org, f"B{i + 1}", B_UNITS[i], "B", top) for i in range(b_count)]

    def add(role: str, person: Person, unit: Unit | None = None) -> None:
        out.roster.append(RoleSpec(role=role, person_id=person.id, unit_id=unit.id if unit else None))
        out.by_role.setdefault(role, []).append(person)

    add("bestallare", ppl.make("Kommunstyrelsens ordförande", top))
    director = ppl.make("Kommundirektör", top, is_org_admin=True)
    add("ledning", director, top)
    owner = ppl.make("HR-direktör", top)
    add("processagare", owner, top)
    add("ledning", owner, top)
    for title in ("HR-strateg", "Organisationsutvecklare"):
        add("processledare", ppl.make(title, top))
    for title in ("HR-chef", "Ekonomichef", "IT-chef", "Kommunikationschef"):
        add("stabschef", ppl.make(title, top), top)
    for b in b_units:
        head = ppl.make(f"Förvaltningschef {b.name.lower()}", b)
        add("ledning", head, top)
        add("chefers_chef", ppl.make(f"Verksamhetschef {b.name.lower()}", b), b)
    for i in range(managers):
        b = b_units[i % len(b_units)]
        kind_name = C_KINDS[b.name][(i // len(b_units)) % 4]
        unit = _unit(session, org, f"C{i + 1}", f"{kind_name} {PLACES[i % len(PLACES)]} {i + 1}", "C", b)
        add("chef", ppl.make(f"Enhetschef {kind_name.lower()}", unit), unit)
    for i in range(2):
        add("skyddsombud", ppl.make("Skyddsombud", b_units[i % len(b_units)]))
    body = Body(organisation_id=org.id, name="Central samverkansgrupp", kind="samverkansgrupp")
    session.add(body)
    session.flush()
    for union in ("Vision", "Kommunal", "Sveriges Lärare"):
        rep = ppl.make(f"Facklig företrädare {union}", None)
        session.add(BodyMember(body_id=body.id, person_id=rep.id, capacity=union))
    session.add(BodyMember(body_id=body.id, person_id=owner.id, capacity="arbetsgivare"))
    session.flush()
    out.samverkan = body
    out.roster.append(RoleSpec(role="samverkan", body_id=body.id))
    return out
