// The alert queue reloads itself every data-poll seconds (new drafts, delivery progress),
// except while someone is typing a reason.
const main = document.querySelector('[data-poll]');
const poll = Math.max(2, Number(main?.dataset.poll || 5));
setInterval(() => {
  const typing = [...document.querySelectorAll('input[name=why]')].some(i => i.value !== '' || i === document.activeElement);
  if (!typing) location.replace(location.pathname); // drops ?done= once shown
}, poll * 1000);
