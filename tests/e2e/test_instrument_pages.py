"""The instruments page over HTTP: the list, importing an own file, a broken file shown with its
problems and nothing stored, and who sees the upload form."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models import OrganisationInstrument
from tests.api.test_instruments import OWN
from tests.e2e.test_pages_http import sign_in
from tests.e2e.world import World
from tests.surveys.test_instruments import BROKEN


def _upload(client: TestClient, csrf: str, text: str, **form) -> object:
    return client.post("/instruments", data={"csrf_token": csrf, **{k: str(v) for k, v in form.items()}},
                       files={"file": ("eget.yaml", text.encode(), "application/yaml")})


def _stored(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(OrganisationInstrument))


def test_the_processledare_imports_an_own_instrument(client: TestClient, world: World,
                                                      session_factory) -> None:
    csrf = sign_in(client, world.emails["processledare"])
    process = client.get(f"/processes/{world.process_id}").text
    assert f'href="/instruments?process_id={world.process_id}"' in process
    page = client.get(f"/instruments?process_id={world.process_id}")
    assert page.status_code == 200 and "Kartläggningsinstrument" in page.text
    assert page.text.count("Följer med Chefoskop") == 3 and 'type="file"' in page.text

    refused = _upload(client, csrf, BROKEN, process_id=world.process_id)
    assert refused.status_code == 422 and "Instrumentfilen har fel" in refused.text
    assert "sections[0].items[0].scale" in refused.text and "(rad " in refused.text
    assert "Ska vara något av: 1, 2, 3." in refused.text  # a list, not English "or"
    assert _stored(session_factory) == 0

    done = _upload(client, csrf, OWN, process_id=world.process_id)
    assert done.status_code == 303
    listed = client.get(done.headers["location"]).text
    assert "Instrumentet är importerat" in listed and "Våra krav och resurser" in listed
    assert _stored(session_factory) == 1


def test_others_see_the_list_without_the_form(client: TestClient, world: World, session_factory) -> None:
    csrf = sign_in(client, world.emails["chef"])
    page = client.get(f"/instruments?process_id={world.process_id}")
    assert page.status_code == 200 and 'type="file"' not in page.text
    assert _upload(client, csrf, OWN, process_id=world.process_id).status_code == 403
    assert _upload(client, csrf, OWN).status_code == 403
    assert _upload(client, "forged", OWN).status_code == 403
    assert _stored(session_factory) == 0
