// React Router v6 with the v7 behaviours switched on now, so the upgrade changes nothing.
export const routerFuture = { v7_startTransition: true, v7_relativeSplatPath: true } as const;
