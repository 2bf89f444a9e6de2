
BoutputJ(–I¾ÉÝl¾2Í|¿Hsñ¾R>GÔw>xrH?¼‹>¶bô¾ôu#¾