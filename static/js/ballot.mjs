// Live running total on knapsack ballots. Progressive enhancement only: the server computes
// and checks the total on the review page, and the page works without JavaScript.
const pounds = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });

for (const form of document.querySelectorAll("form[data-ballot]")) {
  const output = form.querySelector("[data-ballot-total]");
  if (!output) continue;
  const budget = Number(form.dataset.budget);
  const boxes = [...form.querySelectorAll("input[type=checkbox][data-cost]")];
  const render = () => {
    const total = boxes.filter((b) => b.checked).reduce((sum, b) => sum + Number(b.dataset.cost), 0);
    const left = budget - total;
    output.textContent = left >= 0
      ? `Your choices cost ${pounds.format(total / 100)}: ${pounds.format(left / 100)} of the budget left.`
      : `Your choices cost ${pounds.format(total / 100)}: ${pounds.format(-left / 100)} over the budget. Remove an idea.`;
    output.classList.toggle("app-ballot-total--over", left < 0);
  };
  boxes.forEach((b) => b.addEventListener("change", render));
  output.hidden = false;
  render();
}
