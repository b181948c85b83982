"""End to end in a real browser: Debian's headless Chromium, driven by Selenium, against a real uvicorn
server started on a free port. Screenshots go to test-artifacts/browser/ (look at them).

1. A documenter with JavaScript switched off (Tor Browser's safest level) signs in, switches to Belarusian,
   records a case with a testimony and a photo (and sees the photo's SHA-256), corrects a mistake the server
   pointed out, and finds the case in the list.
2. A documenter records a case with an uploaded scan; a researcher (JavaScript off) finds it through the search
   page and reads it with the file's digest; a coordinator downloads its evidence bundle from the exports page.
3. With JavaScript on, a researcher finds a case through the list filters, reads it without any identity,
   opens the printable sheet, and the API explorer at /docs runs offline without breaking its CSP.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, TEST_SECRET, Account
from tests.factories import make_jpeg
from tests.web.world import CANARY

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Without the background-networking switches Chromium calls home constantly, which this closed network refuses.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1100",
)

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("CI"):
        raise RuntimeError("browser tests need Debian's chromium and chromium-driver: .ci/run installs them")
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(database_url: str, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A real server process (uvicorn) on this test's database, on a free local port."""
    port = _free_port()
    env = {
        **os.environ,
        "PRECEDENT_DATABASE_URL": database_url,
        "PRECEDENT_DATA_DIR": str(data_dir),
        "PRECEDENT_SECRET_KEY": TEST_SECRET,
        "PRECEDENT_MODE": "dev",
    }
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start: " + (tmp_path / "server.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


def _browser(tmp_path: Path, *, javascript: bool, name: str = "", downloads: Path | None = None) -> WebDriver:
    options = Options()
    options.binary_location = CHROMIUM
    profile = tmp_path / f"chromium-{'js' if javascript else 'nojs'}{name}"
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--lang=en-US"):
        options.add_argument(flag)
    prefs: dict[str, object] = {}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    if downloads is not None:
        prefs |= {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    if prefs:
        options.add_experimental_option("prefs", prefs)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _shot(driver: WebDriver, folder: Path, name: str) -> None:
    # Full-page screenshots: resize the window to the page's height first (works without page JavaScript).
    height = driver.find_element(By.TAG_NAME, "body").size["height"] + 40
    driver.set_window_size(1280, max(800, min(height, 4000)))
    driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(1280, 1100)


def _fill(driver: WebDriver, name: str, value: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def _gone(element: WebElement) -> bool:
    """True once the element's page has been replaced. Chrome reports a node of a page that is being torn down
    either as stale or, mid-navigation, as an inspector error ("Node ... does not belong to the document");
    both mean the old page is gone."""
    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


def _click(driver: WebDriver, text: str, *, kind: str = "self::a or self::button") -> None:
    """Click a link or button by its text and wait for the next page (every click here navigates)."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.XPATH, f"//*[{kind}][normalize-space()='{text}']").click()
    WebDriverWait(driver, 20).until(lambda _driver: _gone(page))
    WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.TAG_NAME, "main")))


def test_documenter_records_a_case_in_belarusian_with_javascript_off(
    live_server: str, documenter: Account, tmp_path: Path, shots: Path
) -> None:
    driver = _browser(tmp_path, javascript=False)
    try:
        driver.get(f"{live_server}/docs")
        assert (
            "This page needs JavaScript" in driver.find_element(By.TAG_NAME, "body").text
        )  # JavaScript is off

        driver.get(f"{live_server}/login")
        _shot(driver, shots, "01-sign-in-en")
        _click(driver, "Беларуская")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "be"
        _fill(driver, "username", documenter.username)
        _fill(driver, "password", PASSWORD)
        _shot(driver, shots, "02-sign-in-be")
        _click(driver, "Увайсці")
        assert "Галоўная" in driver.title
        _shot(driver, shots, "03-dashboard")

        _click(driver, "Запісаць новую справу")
        title = "Звальненне сябра незалежнага прафсаюза на «Беларуськаліі»"
        _fill(driver, "title", title)
        _fill(driver, "summary", "Рабочага звольнілі пасля ўдзелу ў сходзе прафсаюза.")
        _fill(driver, "narrative", "Пасля сходу 19 красавіка яго выклікалі ў аддзел кадраў.")
        _fill(driver, "occurred_from", "31.04.2022")  # April has 30 days: the server says so
        _fill(driver, "region", "Мінская вобласць")
        Select(driver.find_element(By.NAME, "language")).select_by_value("be")
        # The taxonomy picker without JavaScript: unfold an area (a <details>), tick a category, mark it main.
        driver.find_element(By.XPATH, "//summary[code='C']").click()
        driver.find_element(By.ID, "cat-C.DIS.DISMISSAL").click()
        driver.find_element(By.ID, "main-C.DIS.DISMISSAL").click()
        _click(driver, "Запісаць справу")
        assert driver.find_element(By.ID, "cat-C.DIS.DISMISSAL").is_selected(), "the tick survives the error"
        error = driver.find_element(By.ID, "e-occurred_from").text
        assert "Упішыце сапраўдную дату" in error
        assert driver.find_element(By.NAME, "region").get_attribute("value") == "Мінская вобласць"
        _shot(driver, shots, "04-case-form-error")
        _fill(driver, "occurred_from", "19.04.2022")
        _click(driver, "Запісаць справу")
        assert "Справа запісаная." in driver.find_element(By.CSS_SELECTOR, ".notice").text
        assert "19 красавіка 2022" in driver.page_source
        record = driver.find_element(By.CSS_SELECTOR, "dl.record").text
        assert "Звальненне за членства ў прафсаюзе або прафсаюзную дзейнасць" in record
        assert "МАП C98" in record  # the norms the category concerns
        _shot(driver, shots, "05-case-recorded")

        _click(driver, "Дадаць сведчанне")
        _fill(driver, "new_pseudonym", "Сведка К-7")
        _fill(driver, "new_full_name", CANARY)
        _fill(driver, "text", "Мяне выклікалі ў аддзел кадраў і сказалі, што за ўдзел у сходзе я звольнены.")
        _shot(driver, shots, "06-testimony-form")
        _click(driver, "Запісаць сведчанне")
        page = driver.find_element(By.TAG_NAME, "main").text
        assert "Сведчанне запісанае." in page and "Сведчанне: Сведка К-7" in page
        assert CANARY not in driver.page_source
        _shot(driver, shots, "07-case-with-testimony")

        # A photo of the dismissal order, as a phone would take it (a real JPEG with camera EXIF).
        photo = make_jpeg(gps=False, color=(240, 235, 220), size=(320, 240))
        photo_path = tmp_path / "загад.jpg"
        photo_path.write_bytes(photo)
        _fill(driver, "description", "Фота загада аб звальненні")
        _fill(driver, "captured_on", "20.04.2022")
        driver.find_element(By.NAME, "file").send_keys(str(photo_path))
        _shot(driver, shots, "08-upload-form")
        _click(driver, "Загрузіць файл")
        assert "Файл атрыманы і захаваны." in driver.find_element(By.CSS_SELECTOR, ".notice").text
        evidence = driver.find_element(By.CSS_SELECTOR, "article.evidence").text
        assert f"sha256:{hashlib.sha256(photo).hexdigest()}" in evidence
        assert "image/jpeg" in evidence and "Фота загада аб звальненні" in evidence
        _shot(driver, shots, "09-photo-with-digest")

        _click(driver, "Справы")
        Select(driver.find_element(By.NAME, "country")).select_by_value("BY")
        _click(driver, "Паказаць")
        driver.find_element(By.LINK_TEXT, title)
        assert "Знойдзена 1 справа." in driver.page_source
        _shot(driver, shots, "10-case-list")
    finally:
        driver.quit()


def _sign_in(driver: WebDriver, base: str, who: Account, button: str = "Sign in") -> None:
    driver.get(f"{base}/login")
    _fill(driver, "username", who.username)
    _fill(driver, "password", PASSWORD)
    _click(driver, button)


def _png() -> bytes:
    """A small real PNG: a scan of a document, as a phone app would save it."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 160), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for y in range(20, 150, 12):
        draw.line((20, y, 220, y), fill=(60, 60, 60), width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_case_with_a_file_is_found_through_search_and_its_bundle_downloaded(
    live_server: str,
    documenter: Account,
    researcher: Account,
    coordinator: Account,
    tmp_path: Path,
    shots: Path,
) -> None:
    scan = _png()
    scan_path = tmp_path / "dismissal-order.png"
    scan_path.write_bytes(scan)
    digest = f"sha256:{hashlib.sha256(scan).hexdigest()}"
    title = "Dismissal of the union chair at Naftan refinery"

    driver = _browser(tmp_path, javascript=True, name="-documenter")
    try:
        _sign_in(driver, live_server, documenter)
        _click(driver, "New case")
        _fill(driver, "title", title)
        _fill(driver, "summary", "Dismissed two days after the union meeting at the refinery.")
        _fill(driver, "occurred_from", "12.03.2023")
        _fill(driver, "employer", "Naftan")
        driver.find_element(By.XPATH, "//summary[code='C']").click()
        driver.find_element(By.ID, "cat-C.DIS.DISMISSAL").click()
        _click(driver, "Record the case")
        assert "The case was recorded." in driver.find_element(By.CSS_SELECTOR, ".notice").text
        _fill(driver, "description", "Scan of the dismissal order")
        driver.find_element(By.NAME, "file").send_keys(str(scan_path))
        _click(driver, "Upload the file")
        assert digest in driver.find_element(By.CSS_SELECTOR, "article.evidence").text
        assert "image/png" in driver.find_element(By.CSS_SELECTOR, "article.evidence").text
        _shot(driver, shots, "01-documenter-uploaded")
    finally:
        driver.quit()

    driver = _browser(tmp_path, javascript=False, name="-researcher")
    try:
        _sign_in(driver, live_server, researcher)
        _click(driver, "Search")
        _fill(driver, "q", "refinery union")
        _fill(driver, "date_from", "2023")
        _click(driver, "Search", kind="self::button")  # the form's button, not the menu's link
        results = driver.find_element(By.CSS_SELECTOR, "section.results").text
        assert "1 case found." in results and title in results
        # A researcher gets no excerpt of a text no coordinator cleared (it could show a name typed in it).
        assert not driver.find_elements(By.CSS_SELECTOR, "p.snippet mark"), "no excerpt of uncleared text"
        _shot(driver, shots, "02-researcher-search")
        _click(driver, title)
        evidence = driver.find_element(By.CSS_SELECTOR, "article.evidence").text
        assert digest in evidence and "dismissal-order.png" not in evidence
        assert not driver.find_elements(By.LINK_TEXT, "Download the file")
        _shot(driver, shots, "03-researcher-case")
        _click(driver, "Statistics")
        _shot(driver, shots, "04-researcher-statistics")
    finally:
        driver.quit()

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _browser(tmp_path, javascript=True, name="-coordinator", downloads=downloads)
    try:
        _sign_in(driver, live_server, coordinator)
        driver.get(f"{live_server}/search?q=Naftan")
        _click(driver, title)
        _click(driver, "Export")
        assert "Withheld for lack of consent" in driver.page_source
        _shot(driver, shots, "05-coordinator-export")
        driver.find_element(By.LINK_TEXT, "Evidence bundle (ZIP, BagIt)").click()
        deadline = time.monotonic() + 30
        zips: list[Path] = []
        while time.monotonic() < deadline and not zips:
            zips = [p for p in downloads.glob("*.zip") if p.stat().st_size > 0]
            time.sleep(0.2)
        assert zips, "the bundle was downloaded"
        time.sleep(0.5)
        with zipfile.ZipFile(zips[0]) as bag:
            names = bag.namelist()
            assert any(n.endswith("bagit.txt") for n in names)
            manifest = next(n for n in names if n.endswith("/manifest-sha256.txt"))
            assert hashlib.sha256(scan).hexdigest() in bag.read(manifest).decode()
    finally:
        driver.quit()


def test_researcher_finds_and_reads_a_case_and_the_docs_work_offline(
    live_server: str, documenter: Account, researcher: Account, tmp_path: Path, shots: Path
) -> None:
    api = httpx.Client(base_url=f"{live_server}/api/v1", headers=documenter.headers)
    case = api.post(
        "/cases",
        json={
            "title": "Arrest of the union chair at Grodno Azot",
            "country": "BY",
            "occurred_from": "2022-04",
            "status": "submitted",
            "summary": "Detained after a union meeting.",
            "tags": ["arrest"],
        },
    ).json()
    api.post("/cases", json={"title": "Unrelated dismissal", "country": "PL", "occurred_from": "2021"})
    person = api.post("/people", json={"pseudonym": "Witness K-7", "identity": {"full_name": CANARY}}).json()
    api.post(
        f"/cases/{case['id']}/involvements",
        json={"person_id": person["id"], "role": "victim", "victim_status": "detained"},
    )
    api.post(
        f"/cases/{case['id']}/testimonies",
        json={
            "source_person_id": person["id"],
            "language": "ru",
            "text": "Его задержали после собрания.",
            "taken_at": "2026-01-10",
        },
    )
    driver = _browser(tmp_path, javascript=True)
    try:
        driver.get(f"{live_server}/cases")
        _fill(driver, "username", researcher.username)
        _fill(driver, "password", PASSWORD)
        _click(driver, "Sign in")
        assert driver.current_url.endswith("/cases")  # back where the researcher was going
        Select(driver.find_element(By.NAME, "status")).select_by_value("submitted")
        Select(driver.find_element(By.NAME, "country")).select_by_value("BY")
        _click(driver, "Show")
        assert "1 case found." in driver.page_source and "Unrelated dismissal" not in driver.page_source
        _shot(driver, shots, "01-researcher-filters")
        _click(driver, case["title"])
        assert "Witness K-7" in driver.page_source and "Его задержали" not in driver.page_source
        assert "withheld from your role until a coordinator clears it" in driver.page_source
        assert CANARY not in driver.page_source
        assert not driver.find_elements(By.LINK_TEXT, "Change")
        _shot(driver, shots, "02-researcher-case-page")
        _click(driver, "Printable sheet")
        assert CANARY not in driver.page_source
        _shot(driver, shots, "03-printable-sheet")

        driver.get_log("browser")  # forget what came before
        driver.get(f"{live_server}/docs")
        WebDriverWait(driver, 20).until(
            expected_conditions.presence_of_element_located(
                (By.CSS_SELECTOR, ".swagger-ui .information-container")
            )
        )
        WebDriverWait(driver, 10).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock-tag"))
        )
        assert "Precedent" in driver.find_element(By.CSS_SELECTOR, ".swagger-ui .title").text
        violations = [
            e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]
        ]
        assert violations == []
        _shot(driver, shots, "04-api-docs-offline")
    finally:
        driver.quit()
        api.close()
