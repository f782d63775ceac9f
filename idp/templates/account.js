// The account pages' helpers, which work only with scripts: copying the authenticator
// key, and printing recovery codes. Without scripts their buttons stay hidden.
'use strict';

for (const button of document.querySelectorAll('button.copy[data-copy]')) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    const source = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.dataset.key || source.textContent);
      button.textContent = button.dataset.copied;
    } catch {
      // The key stays on the page to type by hand.
    }
  });
}

for (const button of document.querySelectorAll('button.print')) {
  button.hidden = false;
  button.addEventListener('click', () => window.print());
}
