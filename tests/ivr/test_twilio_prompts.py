"""On Twilio a person's recording is played; otherwise Google's vi-VN voice, never espeak."""

from __future__ import annotations

import json


def _built(settings, sources: dict[str, str]) -> None:
    root = settings.data_dir / "prompts"
    (root / "web").mkdir(parents=True)
    for key in sources:
        (root / "web" / f"{key}.mp3").write_bytes(b"ID3 fake mp3 " + key.encode())
    manifest = {key: {"source": source, "seconds": 1.0} for key, source in sources.items()}
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_a_recorded_prompt_is_played_and_an_espeak_one_is_said(new_caller, voice_runtime):
    _built(voice_runtime.settings, {"greeting": "recorded", "main_menu": "espeak"})
    caller = new_caller()
    twiml = caller.dial_in()
    assert [p.text for p in twiml.iter("Play")] == ["http://localhost/prompts/greeting.mp3"]
    says = [s.text for s in twiml.iter("Say")]
    assert any("Giấy phép khai thác thủy sản bấm 1" in text for text in says)
    assert all(s.get("voice") == "Google.vi-VN-Standard-A" for s in twiml.iter("Say"))


def test_prompt_audio_is_served_and_nothing_else(voice_app, voice_runtime):
    _built(voice_runtime.settings, {"greeting": "recorded"})
    client = voice_app.test_client()
    response = client.get("/prompts/greeting.mp3")
    assert (response.status_code, response.mimetype) == (200, "audio/mpeg")
    assert response.data == b"ID3 fake mp3 greeting"
    assert client.get("/prompts/nothing.mp3").status_code == 404
    assert client.get("/prompts/..%2Fmanifest.mp3").status_code == 404
