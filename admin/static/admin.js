// The few lines of script the staff page needs (no library, nothing from the internet).
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  if (event.target.closest("[data-print]")) window.print();
});
// Live SMS preview: text, encoding, characters and parts, computed by the server.
document.addEventListener("input", (event) => {
  const box = event.target.closest("[data-preview-url]");
  if (!box) return;
  clearTimeout(box._timer);
  box._timer = setTimeout(async () => {
    const token = document.querySelector("input[name=csrf_token]").value;
    const body = new URLSearchParams({ text: box.value, strip: box.form.strip?.checked ? "1" : "" });
    const reply = await fetch(box.dataset.previewUrl, {
      method: "POST", body, headers: { "X-CSRF-Token": token },
    });
    // 400: the text is refused (too long); the fragment says why.
    if (reply.ok || reply.status === 400) document.getElementById(box.dataset.previewTarget).innerHTML = await reply.text();
  }, 250);
});
