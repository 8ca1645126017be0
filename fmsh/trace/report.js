// The HTML trace report (fmsh/trace/html.py inlines this file): two listeners, no work per bar.
// A click on a step's header row folds its hosts; a click on a bar shows that step in the tree
// and its output; the checkbox keeps only the rows with a failure.
(function () {
  "use strict";
  var timeline = document.querySelector(".tl");
  var onlyBad = document.getElementById("only-bad");
  if (onlyBad && timeline) {
    onlyBad.addEventListener("change", function () {
      timeline.classList.toggle("only-bad", onlyBad.checked);
    });
  }
  function show(id) {
    var target = document.getElementById(id);
    if (!target) return false;
    for (var up = target.parentElement; up; up = up.parentElement) {
      if (up.tagName === "DETAILS") up.open = true;
    }
    if (target.tagName === "DETAILS") target.open = true;
    target.scrollIntoView({ block: "center" });
    target.classList.remove("target");
    void target.offsetWidth; // restart the highlight
    target.classList.add("target");
    return true;
  }
  if (timeline) {
    timeline.addEventListener("click", function (event) {
      var bar = event.target.closest(".bar");
      if (bar) {
        var seq = bar.getAttribute("data-step");
        if (!show("out-" + seq)) show("step-" + seq);
        return;
      }
      var head = event.target.closest(".head");
      if (head && head.parentElement.classList.contains("grp")) {
        head.parentElement.classList.toggle("collapsed");
      }
    });
  }
})();
