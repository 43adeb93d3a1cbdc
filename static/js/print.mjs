// "Print the slip" (assisted sign-up): a button, not an inline handler (the CSP allows no inline script).
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
