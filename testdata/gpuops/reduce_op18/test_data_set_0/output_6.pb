B
logsumexp6JHcz@Œo@c*j@ÕEg@Û+a@æÝ€@–mk@0Zb@í`@pµ{@b5X@Iàw@{Mf@~¡w@Jüc@g^@Ë¹x@wt}@