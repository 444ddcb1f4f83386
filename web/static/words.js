// Live word count under the long answers: a warning only. A draft over the limit is
// saved all the same; the limit is checked when the application is submitted.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("textarea[data-max-words]").forEach(function (area) {
    var limit = parseInt(area.getAttribute("data-max-words"), 10);
    var note = document.getElementById(area.getAttribute("aria-describedby"));
    if (!note) { return; }
    var template = note.textContent;
    function update() {
      var words = (area.value.match(/\S+/g) || []).length;
      note.textContent = words + " / " + limit + " — " + template;
      note.classList.toggle("over", words > limit);
      area.setAttribute("aria-invalid", words > limit ? "true" : "false");
    }
    area.addEventListener("input", update);
    update();
  });
});
