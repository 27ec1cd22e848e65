// The cards kept on this phone (a son's own card beside his father's): each with its own
// holder session token and its own non-extractable P-256 key. IndexedDB stores the
// CryptoKey objects themselves (structured clone), so no key ever leaves the browser.
// Nothing here talks to the server: holder.js asks, redeems and binds, then saves here.
import { store } from '/static/js/app.js';

const WALLET_KEY = 'holder.wallet';
const LEGACY_KEY = 'holder.card'; // one card per phone, before the wallet

/** {cards: [{cardId, token, keyPair, qr, view, savedAt}], current: cardId | null} */
export async function loadWallet() {
  const saved = await store.get(WALLET_KEY).catch(() => null);
  if (saved && Array.isArray(saved.cards)) return saved;
  const legacy = await store.get(LEGACY_KEY).catch(() => null);
  const wallet = { cards: legacy ? [legacy] : [], current: legacy ? legacy.cardId : null };
  if (legacy) {
    await store.put(WALLET_KEY, wallet);
    await store.del(LEGACY_KEY);
  }
  return wallet;
}

function pick(wallet) {
  return wallet.cards.find((c) => c.cardId === wallet.current) || wallet.cards[0] || null;
}

/** The card shown now (the one last chosen with the switcher), or null. */
export async function currentCard() {
  return pick(await loadWallet());
}

export async function findCard(cardId) {
  return (await loadWallet()).cards.find((c) => c.cardId === cardId) || null;
}

/** Add a card, or update the one with its id in place (its order in the list is kept). */
export async function saveCard(card, { makeCurrent = true } = {}) {
  const wallet = await loadWallet();
  const at = wallet.cards.findIndex((c) => c.cardId === card.cardId);
  if (at >= 0) wallet.cards[at] = card;
  else wallet.cards.push(card);
  if (makeCurrent || !wallet.current) wallet.current = card.cardId;
  await store.put(WALLET_KEY, wallet);
  return wallet;
}

export async function selectCard(cardId) {
  const wallet = await loadWallet();
  if (!wallet.cards.some((c) => c.cardId === cardId)) return pick(wallet);
  wallet.current = cardId;
  await store.put(WALLET_KEY, wallet);
  return pick(wallet);
}

/** Forget a card, its token and its key; the next card (if any) becomes the current one. */
export async function forgetCard(cardId) {
  const wallet = await loadWallet();
  wallet.cards = wallet.cards.filter((c) => c.cardId !== cardId);
  if (wallet.current === cardId) wallet.current = wallet.cards[0]?.cardId ?? null;
  await store.put(WALLET_KEY, wallet);
  await store.del(`holder.history.${cardId}`).catch(() => {});
  return pick(wallet);
}
