// Form behaviour the templates ask for with data- attributes: the site's
// Content-Security-Policy runs no inline script, so no onchange="..." either.
//   <select data-autosubmit>        submits its form when changed;
//   <form data-confirm="Question?">  asks before it is sent.
// Without JavaScript the forms still work (a submit button, no question).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
    target.form.submit();
  }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
